/**
 * A process holding one MCP connection to the probe server (test/support/mcp/probe-server.mjs)
 * through the gateway's pool, for tests that kill it: prints `{"probe": PID}` once connected,
 * then waits. Run with `node --import tsx test/support/mcp/pool-child.ts`.
 */
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {McpPool} from '../../../src/lib/gateway/tools/mcp.js'
import type {AgentRow} from '../../../src/lib/gateway/store/types.js'

const here = dirname(fileURLToPath(import.meta.url))
const agent = {
  orgId: 'org',
  agentId: 'agent',
  spec: {
    name: 'a',
    files: {skills: []},
    providers: [],
    mcp: {probe: {type: 'stdio', command: process.execPath, args: [join(here, 'probe-server.mjs')]}},
    network: {allowed: [], denied: []},
    tools: {allowed: [], denied: [], preApproved: []},
  },
} as unknown as AgentRow
const pool = new McpPool({store: {} as never, installKey: Buffer.alloc(32), log: () => {}, env: process.env})
const result = (await pool.call(agent, 'user', 'probe', 'pid', {})) as {content: {text: string}[]}
process.stdout.write(`${JSON.stringify({probe: Number(result.content[0]!.text)})}\n`)
setInterval(() => {}, 60_000)

/**
 * The MCP connection pool on its own: the tool list follows `notifications/tools/list_changed`,
 * an idle connection is closed (its server process ends), a dead server is reconnected later.
 */
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterEach, describe, expect, it} from 'vitest'

import type {AgentRow} from '../../../../src/lib/gateway/store/types.js'
import {McpPool} from '../../../../src/lib/gateway/tools/mcp.js'

const PROBE = join(dirname(fileURLToPath(import.meta.url)), '../../../support/mcp/probe-server.mjs')
const agent = {
  orgId: 'org',
  agentId: 'agent',
  spec: {name: 'a', files: {skills: []}, providers: [], mcp: {probe: {type: 'stdio', command: process.execPath, args: [PROBE]}}, network: {allowed: [], denied: []}, tools: {allowed: [], denied: [], preApproved: []}},
} as unknown as AgentRow

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return check()
}

describe('MCP pool', () => {
  let pool: McpPool | undefined
  const warnings: string[] = []
  const make = (idleMs?: number) =>
    (pool = new McpPool({store: {} as never, installKey: Buffer.alloc(32), log: (level, msg) => void (level === 'warn' && warnings.push(msg)), env: process.env, idleMs}))
  afterEach(async () => {
    await pool?.close()
    warnings.length = 0
  })

  it('refreshes the tool list on tools/list_changed', async () => {
    const p = make()
    const [before] = await p.servers(agent, 'u')
    expect(before!.tools.map((t) => t.name)).not.toContain('extra')
    await p.call(agent, 'u', 'probe', 'grow', {})
    expect(await until(async () => (await p.servers(agent, 'u'))[0]!.tools.some((t) => t.name === 'extra'))).toBe(true)
    // Another user's connection is its own process, without the change.
    expect((await p.servers(agent, 'v'))[0]!.tools.map((t) => t.name)).not.toContain('extra')
  })

  it('closes an idle connection and ends its server', async () => {
    const p = make(300)
    const pid = Number(((await p.call(agent, 'u', 'probe', 'pid', {})) as {content: {text: string}[]}).content[0]!.text)
    expect(alive(pid)).toBe(true)
    expect(await until(() => p.size === 0 && !alive(pid))).toBe(true)
  })

  it('a server that dies is reported on the log and reconnected on a later use', async () => {
    const p = make()
    const pid = Number(((await p.call(agent, 'u', 'probe', 'pid', {})) as {content: {text: string}[]}).content[0]!.text)
    process.kill(pid, 'SIGKILL')
    expect(await until(() => p.size === 0)).toBe(true)
    expect(warnings.join('\n')).toContain('"probe"')
    // Tried again after the backoff (1 s for the first failure).
    expect(await until(async () => (await p.servers(agent, 'u'))[0]!.state === 'connected', 5_000)).toBe(true)
    const again = Number(((await p.call(agent, 'u', 'probe', 'pid', {})) as {content: {text: string}[]}).content[0]!.text)
    expect(again).not.toBe(pid)
  })
})

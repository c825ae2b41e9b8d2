/**
 * An HTTP MCP server's URL is tenant-set: on a team gateway the pool's transports go through the
 * egress guard (docs/SECURITY.md, S27), so a name that resolves to loopback never reaches it.
 */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {EgressPolicy} from '../../../../src/lib/gateway/egress/index.js'
import type {AgentRow} from '../../../../src/lib/gateway/store/types.js'
import {McpPool} from '../../../../src/lib/gateway/tools/mcp.js'

function agentFor(url: string): AgentRow {
  return {
    orgId: 'org',
    agentId: 'agent',
    spec: {name: 'a', files: {skills: []}, providers: [], mcp: {remote: {type: 'streamable-http', url}}, network: {allowed: [], denied: []}, tools: {allowed: [], denied: [], preApproved: []}},
  } as unknown as AgentRow
}

describe('MCP pool behind the egress guard', () => {
  let server: Server | undefined
  let pool: McpPool | undefined
  /** A loopback listener that must see no request: how many it saw. */
  async function listener(): Promise<{port: number; requests: () => number}> {
    let seen = 0
    server = createServer((_req, res) => {
      seen++
      res.writeHead(500).end()
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    return {port: (server.address() as AddressInfo).port, requests: () => seen}
  }
  afterEach(async () => {
    await pool?.close()
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  })

  it('a team gateway never connects to a server whose name resolves to loopback; the server is reported failed', async () => {
    const {port, requests} = await listener()
    // The name resolves to 127.0.0.1, as a DNS answer chosen by the tenant could.
    const egress = new EgressPolicy({guarded: true, lookup: async () => [{address: '127.0.0.1', family: 4}]})
    const warnings: string[] = []
    pool = new McpPool({store: {} as never, installKey: Buffer.alloc(32), log: (level, msg) => void (level === 'warn' && warnings.push(msg)), env: process.env, egress})
    const [state] = await pool.servers(agentFor(`http://mcp.tenant.test:${port}/mcp`), 'u')
    expect(state!.state).toBe('failed')
    expect(state!.error).toMatch(/mcp\.tenant\.test/)
    expect(state!.error).toMatch(/loopback/)
    expect(requests()).toBe(0)
  })

  it('a literal loopback URL is refused before any connection on a team gateway', async () => {
    const {port, requests} = await listener()
    pool = new McpPool({store: {} as never, installKey: Buffer.alloc(32), log: () => {}, env: process.env, egress: new EgressPolicy({guarded: true})})
    const [state] = await pool.servers(agentFor(`http://127.1:${port}/mcp`), 'u')
    expect(state!.state).toBe('failed')
    expect(requests()).toBe(0)
  })
})

/**
 * No stdio MCP server outlives the gateway: ended at shutdown, and within seconds of a
 * `kill -9` of the gateway's process (the reaper watches its parent). And a team gateway (on
 * PostgreSQL) refuses stdio servers unless started with LOBU_ALLOW_STDIO_MCP=1.
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {once} from 'node:events'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import {startFakeProvider} from '../../../support/fake-provider.js'
import {driverNames, startTestGateway} from '../../../support/gateway.js'

const here = dirname(fileURLToPath(import.meta.url))
const PROBE = join(here, '../../../support/mcp/probe-server.mjs')
const CHILD = join(here, '../../../support/mcp/pool-child.ts')
const require = createRequire(import.meta.url)

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Wait until `pid` is gone, at most `ms`; whether it is gone. */
async function gone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!alive(pid)) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return !alive(pid)
}

describe('stdio MCP server processes', () => {
  const cleanup: (() => Promise<unknown>)[] = []
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {})
  })

  it('are ended when the gateway shuts down', async () => {
    const fake = await startFakeProvider()
    cleanup.push(() => fake.close())
    const gw = await startTestGateway({env: {PATH: process.env.PATH, HOME: process.env.HOME}})
    cleanup.push(() => gw.close())
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id as string
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name: 'K', ciphertext: encryptSecret(key, 'sk-x'), keyedHash: keyedHash(key, 'sk-x')})
    const put = await gw.api('/api/v1/agents/p', {
      method: 'PUT',
      body: {providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'K'}}], mcp: {probe: {type: 'stdio', command: process.execPath, args: [PROBE]}}},
    })
    expect(put.status, put.text).toBeLessThan(300)
    const session = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'p'}})
    fake.script({toolCalls: [{name: 'probe__pid', arguments: {}}]}, (t) => `pid ${t.messages.filter((m) => m.role === 'tool')[0]?.content}`)
    const res = await gw.api(`/api/v1/sessions/${session.body.sessionKey}/messages`, {method: 'POST', body: {content: 'pid?'}})
    expect(res.status).toBe(202)
    let pid = 0
    for (let i = 0; i < 100 && !pid; i++) {
      await new Promise((r) => setTimeout(r, 100))
      const history = await gw.api(`/api/v1/sessions/${session.body.sessionKey}`)
      const tool = history.body.messages?.find((m: any) => m.role === 'tool')
      if (tool) pid = Number(tool.content)
    }
    expect(pid).toBeGreaterThan(0)
    expect(alive(pid)).toBe(true)
    await gw.close()
    expect(alive(pid)).toBe(false)
  })

  it('are gone within 5 s of a kill -9 of the process that started them', async () => {
    const child = spawn(process.execPath, ['--import', require.resolve('tsx'), CHILD], {stdio: ['ignore', 'pipe', 'inherit']})
    cleanup.push(async () => child.kill('SIGKILL'))
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')))
    for (let i = 0; i < 200 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 100))
    const {probe} = JSON.parse(out) as {probe: number}
    expect(alive(probe)).toBe(true)
    child.kill('SIGKILL')
    await once(child, 'exit')
    expect(await gone(probe, 5_000)).toBe(true)
  })
})

describe.runIf(driverNames().includes('postgres'))('a team gateway (PostgreSQL)', () => {
  it('refuses stdio MCP servers without LOBU_ALLOW_STDIO_MCP=1, naming the agent and the server', async () => {
    const gw = await startTestGateway({driver: 'postgres', env: {}})
    try {
      const body = {providers: [], mcp: {files: {type: 'stdio', command: 'npx', args: ['x']}}}
      const put = await gw.api('/api/v1/agents/ops', {method: 'PUT', body})
      expect(put.status).toBe(400)
      expect(put.body.error.code).toBe('STDIO_NOT_ALLOWED')
      expect(put.body.error.message).toContain('agent "ops"')
      expect(put.body.error.message).toContain('"files"')
      expect(put.body.error.hint).toContain('LOBU_ALLOW_STDIO_MCP=1')
      expect((await gw.api('/api/v1/agents/ops')).status).toBe(403)
      const desired = {project: `p-${randomBytes(3).toString('hex')}`, agents: [{id: 'ops', name: 'Ops', files: {skills: []}, providers: [], mcp: body.mcp, network: {allowed: [], denied: []}, tools: {preApproved: [], allowed: [], denied: []}}], secrets: {}}
      const plan = await gw.api('/api/v1/apply/plan', {method: 'POST', body: desired})
      expect(plan.status).toBe(400)
      expect(plan.body.error.code).toBe('STDIO_NOT_ALLOWED')
      // HTTP servers are fine.
      const http = await gw.api('/api/v1/agents/ops', {method: 'PUT', body: {providers: [], mcp: {docs: {type: 'streamable-http', url: 'https://mcp.example.com/mcp'}}}})
      expect(http.status, http.text).toBeLessThan(300)
    } finally {
      await gw.close()
    }
  })

  it('accepts them with LOBU_ALLOW_STDIO_MCP=1', async () => {
    const gw = await startTestGateway({driver: 'postgres', env: {LOBU_ALLOW_STDIO_MCP: '1'}})
    try {
      const put = await gw.api('/api/v1/agents/ops2', {method: 'PUT', body: {providers: [], mcp: {files: {type: 'stdio', command: 'npx', args: ['x']}}}})
      expect(put.status, put.text).toBeLessThan(300)
    } finally {
      await gw.close()
    }
  })
})

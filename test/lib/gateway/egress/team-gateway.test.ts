/**
 * The egress guard on a gateway: a team gateway refuses tenant-set URLs that name internal
 * addresses (400 at PUT / apply, never contacted) and, at connect time, ones it stored before;
 * it never repeats what the far side answered. A local gateway still reaches a model server on
 * 127.0.0.1.
 */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import {startFakeProvider, type FakeProvider} from '../../../support/fake-provider.js'
import {driverNames, startTestGateway, type TestGateway, type TestOrg} from '../../../support/gateway.js'

const SECRET = 'sk-team-secret-value-0123456789'

/** A loopback listener standing for an internal service: counts requests, answers 400 with a body. */
async function internalService(): Promise<{port: number; hits: string[]; close(): Promise<void>}> {
  const hits: string[] = []
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`)
    res.writeHead(400, {'content-type': 'application/json'})
    res.end(JSON.stringify({error: {message: 'INTERNAL-ONLY: db password is hunter2'}}))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {port: (server.address() as AddressInfo).port, hits, close: () => new Promise((r) => server.close(() => r()))}
}

async function storeSecret(gw: TestGateway, orgId: string, name: string, value: string): Promise<void> {
  const key = gw.gateway.installKey
  await gw.store.secrets.upsert({orgId, name, ciphertext: encryptSecret(key, value), keyedHash: keyedHash(key, value)})
}

function chat(gw: TestGateway, token: string, model: string) {
  return gw.api('/v1/chat/completions', {method: 'POST', token, body: {model, messages: [{role: 'user', content: 'hi'}]}})
}

const minimalAgent = (baseUrl: string) => ({providers: [{id: 'my-proxy', model: 'm', baseUrl, key: {kind: 'secret', name: 'TEAM_KEY'}}]})

describe.each(driverNames())('team gateway egress (%s)', (driver) => {
  let gw: TestGateway
  let org: TestOrg
  let internal: Awaited<ReturnType<typeof internalService>>

  beforeAll(async () => {
    internal = await internalService()
    gw = await startTestGateway({driver, team: true, env: {LOBU_PROVIDER_TIMEOUT_MS: '3000'}})
    org = await gw.createOrg()
    await storeSecret(gw, org.orgId, 'TEAM_KEY', SECRET)
  })
  afterAll(async () => {
    await gw?.close()
    await internal?.close()
  })

  it('refuses every form of a loopback base URL at PUT, naming the field; nothing reaches the listener', async () => {
    const p = internal.port
    for (const url of [
      `http://127.0.0.1:${p}/anything?x=`,
      `http://127.1:${p}/v1`,
      `http://2130706433:${p}/v1`,
      `http://0x7f000001:${p}/v1`,
      `http://[::ffff:127.0.0.1]:${p}/v1`,
      `http://[::1]:${p}/v1`,
      `http://localhost:${p}/v1`,
    ]) {
      const res = await gw.api('/api/v1/agents/evil', {method: 'PUT', token: org.token, body: minimalAgent(url)})
      expect(res.status, url).toBe(400)
      expect(res.body.error.message, url).toMatch(/providers\.0\.baseUrl: .*loopback/)
      expect(res.body.error.hint).toMatch(/LOBU_EGRESS_ALLOW/)
    }
    expect((await gw.api('/api/v1/agents/evil', {token: org.token})).status).toBe(403)
    expect(internal.hits).toEqual([])
  })

  it('refuses link-local, private and unique-local addresses at PUT and at apply', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.8/v1', 'http://192.168.1.20/v1', 'http://[fd00::1]/v1']) {
      const res = await gw.api('/api/v1/agents/evil', {method: 'PUT', token: org.token, body: minimalAgent(url)})
      expect(res.status, url).toBe(400)
      expect(res.body.error.message).toMatch(/providers\.0\.baseUrl/)
    }
    const mcp = await gw.api('/api/v1/agents/evil', {
      method: 'PUT',
      token: org.token,
      body: {mcp: {files: {type: 'streamable-http', url: 'https://mcp.example/mcp', oauth: {authUrl: 'https://auth.example/authorize', tokenUrl: 'http://169.254.169.254/token'}}}},
    })
    expect(mcp.status).toBe(400)
    expect(mcp.body.error.message).toMatch(/mcp\.files\.oauth\.tokenUrl/)

    const agent = {id: 'evil', name: 'Evil', files: {skills: []}, providers: [{id: 'p', model: 'm', baseUrl: 'http://169.254.169.254/v1', key: {kind: 'none'}}], mcp: {}, network: {allowed: [], denied: []}, tools: {preApproved: [], allowed: [], denied: []}}
    const plan = await gw.api('/api/v1/apply/plan', {method: 'POST', token: org.token, body: {project: 'p1', agents: [agent], secrets: {}}})
    expect(plan.status).toBe(400)
    expect(plan.body.error.details).toEqual([expect.objectContaining({path: 'agents[0].providers[0].baseUrl'})])
  })

  it('a stored agent pointing at loopback is refused at connect time: the org secret is never sent', async () => {
    // Written straight into the store, as an agent saved before the guard existed would be.
    await gw.store.agents.upsert({orgId: org.orgId, agentId: 'legacy', spec: {name: 'Legacy', files: {skills: []}, ...minimalAgent(`http://127.1:${internal.port}/anything?x=`), mcp: {}, network: {allowed: [], denied: []}, tools: {preApproved: [], allowed: [], denied: []}} as never, managedBy: null})
    const res = await chat(gw, org.token, 'legacy')
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.text).toMatch(/does not connect to 127\.0\.0\.1/)
    expect(res.text).not.toContain(SECRET)
    expect(internal.hits).toEqual([])
  })

  it('an allowed internal host is reached, but what it answers is not repeated to the caller', async () => {
    const allowed = await startTestGateway({driver, team: true, env: {LOBU_EGRESS_ALLOW: `127.0.0.1:${internal.port}`, LOBU_PROVIDER_TIMEOUT_MS: '3000'}})
    try {
      const o = await allowed.createOrg()
      await storeSecret(allowed, o.orgId, 'TEAM_KEY', SECRET)
      const put = await allowed.api('/api/v1/agents/proxy', {method: 'PUT', token: o.token, body: minimalAgent(`http://127.0.0.1:${internal.port}/v1`)})
      expect(put.status).toBe(201)
      // Another loopback port is still refused.
      const other = await allowed.api('/api/v1/agents/other', {method: 'PUT', token: o.token, body: minimalAgent(`http://127.0.0.1:${internal.port + 1}/v1`)})
      expect(other.status).toBe(400)
      const before = internal.hits.length
      const res = await chat(allowed, o.token, 'proxy')
      expect(internal.hits.length).toBeGreaterThan(before)
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.text).toContain(`127.0.0.1:${internal.port}`)
      expect(res.text).not.toContain('INTERNAL-ONLY')
      expect(res.text).not.toContain('hunter2')
    } finally {
      await allowed.close()
      internal.hits.length = 0
    }
  })
})

describe('local gateway egress', () => {
  let fake: FakeProvider
  let gw: TestGateway
  beforeAll(async () => {
    fake = await startFakeProvider()
    gw = await startTestGateway({env: {}})
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })

  it('chats with a model server on 127.0.0.1 (base_url = "http://127.0.0.1:…/v1")', async () => {
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id
    await storeSecret(gw, orgId, 'TEAM_KEY', SECRET)
    const put = await gw.api('/api/v1/agents/local-model', {method: 'PUT', body: {providers: [{id: 'ollama-like', model: 'llama3.2', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'TEAM_KEY'}}]}})
    expect(put.status).toBe(201)
    expect(fake.urls.openai).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    fake.reply('hello from a local model')
    const res = await chat(gw, gw.adminToken, 'local-model')
    expect(res.status).toBe(200)
    expect(res.body.choices[0].message.content).toBe('hello from a local model')
  })
})

describe('operator settings on a team gateway', () => {
  it('trusts the gateway environment: OPENAI_BASE_URL on loopback serves the default agent', async () => {
    const fake = await startFakeProvider()
    const gw = await startTestGateway({team: true, env: {OPENAI_API_KEY: 'sk-operator', OPENAI_BASE_URL: fake.urls.openai}})
    try {
      const org = await gw.createOrg()
      fake.reply('served by the operator model')
      const res = await chat(gw, org.token, 'default')
      expect(res.status).toBe(200)
      expect(res.body.choices[0].message.content).toBe('served by the operator model')
    } finally {
      await gw.close()
      await fake.close()
    }
  })

  it('refuses a malformed LOBU_EGRESS_ALLOW at boot with a message naming the entry', async () => {
    await expect(startTestGateway({team: true, env: {LOBU_EGRESS_ALLOW: '10.0.0.0/99'}})).rejects.toThrow(/LOBU_EGRESS_ALLOW: "10\.0\.0\.0\/99"/)
  })
})

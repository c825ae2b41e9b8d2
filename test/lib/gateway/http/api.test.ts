import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

import {generateToken, hashToken} from '../../../../src/lib/gateway/auth/tokens.js'
import {driverNames, startTestGateway, type TestGateway} from '../../../support/gateway.js'

const agentBody = (name: string) => ({
  name,
  description: 'a test agent',
  providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'OPENAI_API_KEY'}}],
  mcp: {github: {type: 'streamable-http', url: 'https://mcp.example/mcp', headers: {Authorization: 'Bearer sk-mcp-secret-value'}}},
})

describe.each(driverNames())('gateway API (%s)', (driver) => {
  let gw: TestGateway
  beforeAll(async () => {
    gw = await startTestGateway({driver, env: {OPENAI_API_KEY: 'sk-system-key-value'}, project: {id: 'demo', root: '/tmp/demo'}})
  })
  afterAll(async () => {
    await gw?.close()
  })

  /** Mint a token for the admin with the given scopes through the API. */
  const mint = async (scopes: string[], extra: Record<string, unknown> = {}) => {
    const res = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: `t-${scopes.join('-')}`, scopes, ...extra}})
    expect(res.status, res.text).toBe(201)
    return res.body as {id: string; token: string; name: string; scopes: string[]; expiresAt: string | null}
  }

  describe('health and errors', () => {
    it('GET /health answers without auth with version and project', async () => {
      const res = await gw.api('/health', {token: null})
      expect(res.status).toBe(200)
      expect(res.body).toEqual({status: 'ready', ok: true, version: '0.0.0-test', project: 'demo'})
    })

    it('unknown routes are JSON 404s; protected unknown routes need auth first', async () => {
      const res = await gw.api('/nope', {token: null})
      expect(res.status).toBe(404)
      expect(res.body.error.code).toBe('NOT_FOUND')
      expect((await gw.api('/api/v1/nope', {token: null})).status).toBe(401)
      expect((await gw.api('/api/v1/nope')).status).toBe(404)
      expect((await gw.api('/api', {token: null})).status).toBe(401)
      expect((await gw.api('/v1/models', {token: null})).status).toBe(401)
    })

    it('sends no CORS headers', async () => {
      const res = await gw.api('/api/v1/agents', {headers: {origin: gw.url}})
      expect(res.status).toBe(200)
      expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([])
    })
  })

  describe('auth', () => {
    it('GET /api/v1/whoami describes the caller', async () => {
      const res = await gw.api('/api/v1/whoami')
      expect(res.status).toBe(200)
      expect(res.body.org).toMatchObject({slug: 'local', name: 'Local'})
      expect(res.body.user).toMatchObject({id: expect.any(String), name: expect.any(String)})
      expect(res.body.token).toMatchObject({id: gw.adminTokenId, name: 'lobu run (local)', expiresAt: null})
      expect(res.body.token.scopes).toEqual(['agents:read', 'agents:write', 'chat', 'tokens:write', 'oauth', 'connections:token', 'admin'])
    })

    it('a missing, malformed or unknown bearer is 401 UNAUTHENTICATED', async () => {
      for (const token of [null, 'nope', generateToken()]) {
        const res = await gw.api('/api/v1/whoami', {token})
        expect(res.status).toBe(401)
        expect(res.body.error.code).toBe('UNAUTHENTICATED')
      }
      const basic = await gw.api('/api/v1/whoami', {token: null, headers: {authorization: `Basic ${Buffer.from('a:b').toString('base64')}`}})
      expect(basic.status).toBe(401)
    })

    it('S20: a wrong bearer is 401 even with a valid token in a cookie or the query', async () => {
      const good = gw.adminToken
      const wrong = await gw.api(`/api/v1/whoami?access_token=${good}&token=${good}`, {
        token: generateToken(),
        headers: {cookie: `token=${good}; lobu_token=${good}; session=${good}`},
      })
      expect(wrong.status).toBe(401)
      const noHeader = await gw.api(`/api/v1/whoami?access_token=${good}`, {token: null, headers: {cookie: `token=${good}`}})
      expect(noHeader.status).toBe(401)
    })

    it('creates a token that works with exactly its scopes', async () => {
      const raw = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'cache', scopes: ['chat']}})
      expect(raw.headers['cache-control']).toBe('no-store')
      const t = await mint(['agents:read', 'chat'], {expiresIn: '30d'})
      expect(t.token).toMatch(/^lobu_pat_[0-9A-Za-z]{43}$/)
      expect(t.scopes).toEqual(['agents:read', 'chat'])
      expect(new Date(t.expiresAt!).getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000)
      const who = await gw.api('/api/v1/whoami', {token: t.token})
      expect(who.body.token).toMatchObject({id: t.id, scopes: ['agents:read', 'chat']})
      expect((await gw.api('/api/v1/agents', {token: t.token})).status).toBe(200)
      const put = await gw.api('/api/v1/agents/nope', {method: 'PUT', body: agentBody('x'), token: t.token})
      expect(put.status).toBe(403)
      expect(put.body.error.code).toBe('FORBIDDEN')
      expect(put.body.error.message).toContain('agents:write')
    })

    it('defaults expiresIn to 90 days; never means no expiry', async () => {
      const d = await mint(['chat'])
      const days = (new Date(d.expiresAt!).getTime() - Date.now()) / 86_400_000
      expect(days).toBeGreaterThan(89)
      expect(days).toBeLessThan(91)
      expect((await mint(['chat'], {expiresIn: 'never'})).expiresAt).toBeNull()
      const bad = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'x', scopes: ['chat'], expiresIn: 'soon'}})
      expect(bad.status).toBe(400)
      expect(bad.body.error.message).toContain('expiresIn')
    })

    it('S19: a chat-only token cannot mint tokens or grant admin; unknown or empty scopes are 400', async () => {
      const chat = await mint(['chat'])
      const noWrite = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'x', scopes: ['chat']}, token: chat.token})
      expect(noWrite.status).toBe(403)
      expect(noWrite.body.error.message).toContain('tokens:write')

      const minter = await mint(['tokens:write', 'chat'])
      const admin = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'x', scopes: ['admin']}, token: minter.token})
      expect(admin.status).toBe(403)
      expect(admin.body.error).toMatchObject({code: 'FORBIDDEN'})
      expect(admin.body.error.message).toContain('`admin`')
      const ok = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'x', scopes: ['chat']}, token: minter.token})
      expect(ok.status).toBe(201)

      const unknown = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'x', scopes: ['foo']}})
      expect(unknown.status).toBe(400)
      expect(unknown.body.error.message).toContain('"foo"')
      const empty = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'x', scopes: []}})
      expect(empty.status).toBe(400)
      const missing = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'x'}})
      expect(missing.status).toBe(400)
      expect(missing.body.error).toMatchObject({code: 'INVALID_REQUEST'})
      expect(missing.body.error.message).toContain('scopes')
    })

    it('expired and revoked tokens are 401', async () => {
      const who = await gw.api('/api/v1/whoami')
      const expired = generateToken()
      await gw.store.tokens.create({
        orgId: who.body.org.id,
        userId: who.body.user.id,
        name: 'expired',
        tokenHash: hashToken(expired),
        scopes: ['chat'],
        expiresAt: new Date(Date.now() - 1000),
      })
      expect((await gw.api('/api/v1/whoami', {token: expired})).status).toBe(401)

      const t = await mint(['chat', 'tokens:write'])
      expect((await gw.api('/api/v1/whoami', {token: t.token})).status).toBe(200)
      const revoke = await gw.api(`/api/v1/tokens/${t.id}`, {method: 'DELETE'})
      expect(revoke.status).toBe(200)
      const after = await gw.api('/api/v1/whoami', {token: t.token})
      expect(after.status).toBe(401)
      expect(after.body.error.code).toBe('UNAUTHENTICATED')
    })

    it('touches last_used_at on use (at most once a minute), without holding the request', async () => {
      const t = await mint(['chat'])
      const lastUsed = async () => (await gw.store.tokens.findByHash(hashToken(t.token)))?.lastUsedAt ?? null
      expect(await lastUsed()).toBeNull()
      await gw.api('/api/v1/whoami', {token: t.token})
      // Written after the response (not awaited by the request): wait for it.
      await vi.waitFor(async () => expect(await lastUsed()).toBeInstanceOf(Date))
      const first = (await lastUsed())!
      // Used again within the minute: not written again.
      await gw.api('/api/v1/whoami', {token: t.token})
      await gw.api('/api/v1/whoami', {token: t.token})
      expect((await lastUsed())!.getTime()).toBe(first.getTime())
      // Two minutes later on the gateway's clock: written again. (Only Date is faked.)
      vi.useFakeTimers({toFake: ['Date'], now: Date.now() + 2 * 60_000})
      try {
        await gw.api('/api/v1/whoami', {token: t.token})
        await vi.waitFor(async () => expect((await lastUsed())!.getTime()).toBeGreaterThan(first.getTime() + 60_000))
      } finally {
        vi.useRealTimers()
      }
    })

    it('S1: no column of the tokens table holds a plaintext token', async () => {
      const t = await mint(['chat'])
      const rows = await gw.store.sql.query('SELECT * FROM tokens')
      const dump = JSON.stringify(rows)
      expect(dump).not.toContain(t.token)
      expect(dump).not.toContain(gw.adminToken)
      expect(dump).not.toContain(t.token.slice('lobu_pat_'.length))
      expect(dump).toContain(hashToken(t.token))
    })

    it('lists the caller own tokens without secrets and revokes only its own', async () => {
      const t = await mint(['chat'])
      const list = await gw.api('/api/v1/tokens')
      expect(list.status).toBe(200)
      const ids = list.body.map((x: {id: string}) => x.id)
      expect(ids).toContain(t.id)
      expect(list.body.find((x: {id: string}) => x.id === gw.adminTokenId)).toMatchObject({current: true})
      expect(list.text).not.toContain(t.token)
      expect(list.text).not.toContain(hashToken(t.token))
      for (const row of list.body) expect(Object.keys(row).sort()).toEqual(['createdAt', 'current', 'expired', 'expiresAt', 'id', 'lastUsedAt', 'name', 'scopes'])

      const other = await gw.createOrg()
      const foreign = await gw.api(`/api/v1/tokens/${t.id}`, {method: 'DELETE', token: other.token})
      const missing = await gw.api('/api/v1/tokens/tok_doesnotexist', {method: 'DELETE', token: other.token})
      expect(foreign.status).toBe(404)
      expect(foreign.text).toBe(missing.text)
      expect((await gw.api('/api/v1/whoami', {token: t.token})).status).toBe(200)
      const otherList = await gw.api('/api/v1/tokens', {token: other.token})
      expect(otherList.body.map((x: {id: string}) => x.id)).toEqual([other.tokenId])
    })
  })

  describe('agents', () => {
    it('the default agent carries the system providers, never a key value', async () => {
      const list = await gw.api('/api/v1/agents')
      expect(list.status).toBe(200)
      const def = list.body.find((a: {id: string}) => a.id === 'default')
      expect(def).toMatchObject({id: 'default', managedBy: null, mcp: [], providers: [{id: 'openai', model: 'gpt-4o-mini', keySource: 'env:OPENAI_API_KEY'}]})
      expect(list.text).not.toContain('sk-system-key-value')
    })

    it('PUT creates (201) then updates (200); GET shows it without secrets; DELETE removes it', async () => {
      const created = await gw.api('/api/v1/agents/helper', {method: 'PUT', body: agentBody('Helper')})
      expect(created.status, created.text).toBe(201)
      expect(created.body).toMatchObject({
        id: 'helper',
        name: 'Helper',
        providers: [{id: 'openai', model: 'gpt-4o-mini', keySource: 'secret:OPENAI_API_KEY'}],
        mcp: ['github'],
        managedBy: null,
      })
      const updated = await gw.api('/api/v1/agents/helper', {method: 'PUT', body: {...agentBody('Helper 2'), providers: []}})
      expect(updated.status).toBe(200)
      expect(updated.body).toMatchObject({name: 'Helper 2', providers: []})

      const one = await gw.api('/api/v1/agents/helper')
      expect(one.status).toBe(200)
      expect(one.body).toMatchObject({id: 'helper', name: 'Helper 2', mcpServers: {github: {type: 'streamable-http', headerNames: ['Authorization']}}})
      expect(one.text).not.toContain('sk-mcp-secret-value')
      expect((await gw.api('/api/v1/agents')).text).not.toContain('sk-mcp-secret-value')

      const del = await gw.api('/api/v1/agents/helper', {method: 'DELETE'})
      expect(del.status).toBe(200)
      expect((await gw.api('/api/v1/agents/helper')).status).toBe(403)
    })

    it('validates ids and bodies with field paths', async () => {
      const badId = await gw.api('/api/v1/agents/Bad_Id')
      expect(badId.status).toBe(400)
      expect(badId.body.error.code).toBe('INVALID_REQUEST')
      expect((await gw.api(`/api/v1/agents/${'a'.repeat(64)}`)).status).toBe(400)
      const badBody = await gw.api('/api/v1/agents/ok-id', {method: 'PUT', body: {providers: [{id: 'openai'}], mcp: {x: {type: 'stdio'}}}})
      expect(badBody.status).toBe(400)
      expect(badBody.body.error.message).toContain('providers.0.model')
      expect(badBody.body.error.message).toContain('mcp.x.command')
    })

    it('refuses env key sources other than the provider own catalog variable', async () => {
      const leak = await gw.api('/api/v1/agents/leaky', {
        method: 'PUT',
        body: {providers: [{id: 'openai', model: 'm', baseUrl: 'https://evil.example/v1', key: {kind: 'env', name: 'OPENAI_API_KEY'}}]},
      })
      expect(leak.status).toBe(400)
      const other = await gw.api('/api/v1/agents/leaky', {method: 'PUT', body: {providers: [{id: 'openai', model: 'm', key: {kind: 'env', name: 'DATABASE_URL'}}]}})
      expect(other.status).toBe(400)
      const fine = await gw.api('/api/v1/agents/leaky', {method: 'PUT', body: {providers: [{id: 'openai', model: 'm', key: {kind: 'env', name: 'OPENAI_API_KEY'}}]}})
      expect(fine.status).toBe(201)
    })

    it('the default agent cannot be deleted (409)', async () => {
      const res = await gw.api('/api/v1/agents/default', {method: 'DELETE'})
      expect(res.status).toBe(409)
      expect(res.body.error.code).toBe('DEFAULT_AGENT')
      expect((await gw.api('/api/v1/agents/default')).status).toBe(200)
    })

    it('S4/S5: another org cannot see or delete an agent; the answer is byte-identical to a missing one', async () => {
      const b = await gw.createOrg()
      expect((await gw.api('/api/v1/agents/support', {method: 'PUT', body: agentBody('Support of local')})).status).toBe(201)

      const foreignGet = await gw.api('/api/v1/agents/support', {token: b.token})
      const foreignDelete = await gw.api('/api/v1/agents/support', {method: 'DELETE', token: b.token})
      const bList = await gw.api('/api/v1/agents', {token: b.token})
      expect(bList.body.map((a: {id: string}) => a.id)).toEqual(['default'])
      expect((await gw.api('/api/v1/agents/support')).status).toBe(200) // still there for local

      // Now make `support` truly missing everywhere and ask again as org B.
      expect((await gw.api('/api/v1/agents/support', {method: 'DELETE'})).status).toBe(200)
      const missingGet = await gw.api('/api/v1/agents/support', {token: b.token})
      const missingDelete = await gw.api('/api/v1/agents/support', {method: 'DELETE', token: b.token})
      expect(foreignGet.status).toBe(403)
      expect(foreignGet.body.error.code).toBe('FORBIDDEN')
      expect([foreignGet.status, foreignGet.text]).toEqual([missingGet.status, missingGet.text])
      expect([foreignDelete.status, foreignDelete.text]).toEqual([missingDelete.status, missingDelete.text])
    })

    it('two orgs may each have an agent with the same id', async () => {
      const b = await gw.createOrg()
      expect((await gw.api('/api/v1/agents/shared', {method: 'PUT', body: agentBody('A')})).status).toBe(201)
      expect((await gw.api('/api/v1/agents/shared', {method: 'PUT', body: agentBody('B'), token: b.token})).status).toBe(201)
      expect((await gw.api('/api/v1/agents/shared')).body.name).toBe('A')
      expect((await gw.api('/api/v1/agents/shared', {token: b.token})).body.name).toBe('B')
    })
  })

  describe('organizations (admin)', () => {
    it('creates an org with owner, default agent and an owner token without admin', async () => {
      const res = await gw.api('/api/v1/admin/orgs', {method: 'POST', body: {slug: 'acme', name: 'Acme', owner: {email: 'Ada@Acme.Example', name: 'Ada', password: 'long enough pw'}}})
      expect(res.status, res.text).toBe(201)
      expect(res.body.org).toMatchObject({slug: 'acme', name: 'Acme'})
      expect(res.body.user).toMatchObject({name: 'Ada', email: 'ada@acme.example'})
      expect(res.body.token.scopes).toEqual(['agents:read', 'agents:write', 'chat', 'tokens:write', 'oauth', 'connections:token'])
      expect(res.text).not.toContain('long enough pw')
      const user = await gw.store.users.getByEmail('ada@acme.example')
      expect(user?.passwordHash).toMatch(/^scrypt\$/)

      const who = await gw.api('/api/v1/whoami', {token: res.body.token.token})
      expect(who.body.org.slug).toBe('acme')
      const agents = await gw.api('/api/v1/agents', {token: res.body.token.token})
      expect(agents.body).toMatchObject([{id: 'default', providers: [{id: 'openai', keySource: 'env:OPENAI_API_KEY'}]}])
      expect((await gw.api('/api/v1/admin/orgs', {token: res.body.token.token})).status).toBe(403)

      const dup = await gw.api('/api/v1/admin/orgs', {method: 'POST', body: {slug: 'acme', name: 'Other', owner: {email: 'x@y.example', name: 'X'}}})
      expect(dup.status).toBe(409)
      expect(await gw.store.users.getByEmail('x@y.example')).toBeUndefined()

      const list = await gw.api('/api/v1/admin/orgs')
      expect(list.body.map((o: {slug: string}) => o.slug)).toContain('acme')
      expect(list.body.map((o: {slug: string}) => o.slug)).toContain('local')
    })

    it('adds members, reusing a user by email', async () => {
      const org = await gw.createOrg()
      const res = await gw.api(`/api/v1/admin/orgs/${org.slug}/members`, {method: 'POST', body: {email: 'bob@example.com', name: 'Bob', role: 'member'}})
      expect(res.status, res.text).toBe(201)
      expect(res.body).toMatchObject({role: 'member', user: {email: 'bob@example.com'}, org: {slug: org.slug}})
      const again = await gw.api(`/api/v1/admin/orgs/${org.slug}/members`, {method: 'POST', body: {email: 'BOB@example.com', name: 'Robert', role: 'owner'}})
      expect(again.status).toBe(200)
      expect(again.body).toMatchObject({role: 'owner', user: {id: res.body.user.id, name: 'Bob'}})
      const none = await gw.api('/api/v1/admin/orgs/nope-org/members', {method: 'POST', body: {email: 'c@example.com', name: 'C', role: 'member'}})
      expect(none.status).toBe(404)
      const bad = await gw.api(`/api/v1/admin/orgs/${org.slug}/members`, {method: 'POST', body: {email: 'not-an-email', name: 'C', role: 'boss'}})
      expect(bad.status).toBe(400)
      expect(bad.body.error.message).toContain('email')
      expect(bad.body.error.message).toContain('role')
    })
  })
})

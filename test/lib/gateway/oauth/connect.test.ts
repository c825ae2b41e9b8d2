/**
 * Account connections against a real OAuth server (oauth2-mock-server on loopback) as the
 * provider of an MCP server's `oauth` table: authorize → callback → token → refresh, S10
 * (state and token URL), needs_reauth, and the managed connection-token endpoint (S11).
 */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {OAuth2Server} from 'oauth2-mock-server'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {sha256Hex} from '../../../../src/lib/gateway/oauth/codes.js'
import {encryptSecret} from '../../../../src/lib/gateway/crypto/index.js'
import {driverNames, rawRequest} from '../../../support/gateway.js'
import {deviceToken, pageToken, startOAuthGateway, type OAuthTestGateway} from './helpers.js'

interface Issued {
  grantType: string
  body: Record<string, unknown>
}

describe.each(driverNames())('account connections (%s)', (driver) => {
  let gw: OAuthTestGateway
  let provider: OAuth2Server
  let issued: Issued[]
  let evil: Server
  let evilHits = 0
  let evilUrl: string
  let acme: Awaited<ReturnType<OAuthTestGateway['passwordOrg']>>
  let oauthToken: string
  /** Every response body the gateway sent in this file, to look for leaked secrets. */
  const responses: string[] = []

  const agentWithOAuth = (issuer: string) => ({
    name: 'Support',
    providers: [],
    mcp: {
      docs: {type: 'streamable-http', url: 'https://mcp.example/mcp', oauth: {authUrl: `${issuer}/authorize`, tokenUrl: `${issuer}/token`, clientId: 'lobu-test', scopes: ['read', 'write']}},
      plain: {type: 'streamable-http', url: 'https://plain.example/mcp'},
    },
  })

  beforeAll(async () => {
    provider = new OAuth2Server()
    await provider.issuer.keys.generate('RS256')
    await provider.start(0, '127.0.0.1')
    provider.service.on('beforeResponse', (res: {body: Record<string, unknown>}, req: {body: {grant_type: string}}) => {
      issued.push({grantType: req.body.grant_type, body: res.body})
    })
    evil = createServer((_req, res) => {
      evilHits++
      res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({access_token: 'evil-token', token_type: 'Bearer'}))
    })
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
    evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}`

    gw = await startOAuthGateway(driver)
    acme = await gw.passwordOrg('acme')
    const put = await gw.api('/api/v1/agents/support', {method: 'PUT', token: acme.token, body: agentWithOAuth(provider.issuer.url!)})
    expect(put.status, put.text).toBe(201)
    oauthToken = (await gw.mint(['oauth', 'connections:token', 'agents:read'], acme.token)).token
  })
  afterAll(async () => {
    await gw?.close()
    await provider?.stop()
    await new Promise((resolve) => evil?.close(resolve))
  })
  beforeEach(() => {
    issued = []
  })

  const api = async (path: string, opts: Parameters<OAuthTestGateway['api']>[1] = {}) => {
    const res = await gw.api(path, {token: oauthToken, ...opts})
    responses.push(res.text)
    return res
  }
  const grantRows = () => gw.store.sql.query<Record<string, unknown>>('SELECT * FROM oauth_grants ORDER BY created_at')

  /** POST connect, then follow the provider's authorize redirect: the callback URL it sends the browser to. */
  async function authorize(token = oauthToken, target = 'docs'): Promise<{callback: string; state: string; authorizeUrl: string}> {
    const start = await api('/api/v1/oauth/connect', {token, body: {agentId: 'support', target}})
    expect(start.status, start.text).toBe(201)
    const res = await fetch(start.body.authorizeUrl, {redirect: 'manual'})
    expect(res.status).toBe(302)
    const callback = res.headers.get('location')!
    expect(callback.startsWith(`${gw.url}/oauth/callback?`)).toBe(true)
    return {callback, state: start.body.state, authorizeUrl: start.body.authorizeUrl}
  }
  const visit = async (url: string) => {
    const res = await rawRequest(url)
    responses.push(res.text)
    return res
  }

  it('connect: authorize URL with PKCE S256, state and the redirect to this gateway', async () => {
    const start = await api('/api/v1/oauth/connect', {body: {agentId: 'support', target: 'docs'}})
    expect(start.status).toBe(201)
    const url = new URL(start.body.authorizeUrl)
    expect(url.origin + url.pathname).toBe(`${provider.issuer.url}/authorize`)
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: 'lobu-test',
      redirect_uri: `${gw.url}/oauth/callback`,
      scope: 'read write',
      state: start.body.state,
      code_challenge_method: 'S256',
    })
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Date.parse(start.body.expiresAt) - Date.now()).toBeGreaterThan(9 * 60_000)
    expect(Date.parse(start.body.expiresAt) - Date.now()).toBeLessThanOrEqual(10 * 60_000)
    // The state and the verifier are not stored in the clear.
    const states = JSON.stringify(await gw.store.sql.query('SELECT * FROM oauth_states'))
    expect(states).not.toContain(start.body.state)
  })

  it('connect refuses targets without oauth, unknown agents, and tokens without the oauth scope', async () => {
    const plain = await api('/api/v1/oauth/connect', {body: {agentId: 'support', target: 'plain'}})
    expect(plain.status).toBe(400)
    expect(plain.body.error.code).toBe('NOT_OAUTH_TARGET')
    expect(plain.body.error.message).toContain('docs')
    expect((await api('/api/v1/oauth/connect', {body: {agentId: 'nope', target: 'docs'}})).status).toBe(403)
    const chat = await gw.mint(['chat'], acme.token)
    expect((await api('/api/v1/oauth/connect', {token: chat.token, body: {agentId: 'support', target: 'docs'}})).status).toBe(403)
    expect((await api('/api/v1/oauth/connect', {token: null, body: {agentId: 'support', target: 'docs'}})).status).toBe(401)
  })

  it('authorize → callback → token: the grant is stored encrypted, listed without tokens', async () => {
    const {callback} = await authorize()
    const page = await visit(callback)
    expect(page.status, page.text).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
    expect(page.text).toContain('You can close this tab')

    const exchange = issued.find((i) => i.grantType === 'authorization_code')!
    expect(exchange).toBeDefined()
    const access = String(exchange.body.access_token)
    const refresh = String(exchange.body.refresh_token)

    const rows = await grantRows()
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({org_id: acme.orgId, user_id: acme.userId, agent_id: 'support', kind: 'mcp', target: 'docs', status: 'active'})
    const dump = JSON.stringify(rows)
    expect(dump).not.toContain(access)
    expect(dump).not.toContain(refresh)
    expect(String(rows[0]!.access_token)).toMatch(/^v1:/)

    const list = await api('/api/v1/oauth/connections?agentId=support')
    expect(list.status).toBe(200)
    expect(list.body).toHaveLength(1)
    expect(list.body[0]).toMatchObject({agentId: 'support', target: 'docs', kind: 'mcp', status: 'active'})
    expect(Object.keys(list.body[0]).sort()).toEqual(['agentId', 'createdAt', 'expiresAt', 'id', 'kind', 'scopes', 'status', 'target', 'updatedAt'])
    expect(list.text).not.toContain(access)
  })

  it('S10: replaying a callback is a 400 and changes nothing', async () => {
    const {callback} = await authorize()
    expect((await visit(callback)).status).toBe(200)
    const before = JSON.stringify(await grantRows())
    issued = []
    const replay = await visit(callback)
    expect(replay.status).toBe(400)
    expect(replay.text).toContain('already used')
    expect(issued).toHaveLength(0)
    expect(JSON.stringify(await grantRows())).toBe(before)
  })

  it('S10: an unknown or expired state is a 400 and nothing is stored', async () => {
    await gw.store.sql.query('DELETE FROM oauth_grants')
    const {callback} = await authorize()
    const forged = new URL(callback)
    forged.searchParams.set('state', 'forged-state-value-that-this-gateway-never-issued')
    expect((await visit(forged.toString())).status).toBe(400)
    expect((await visit(`${gw.url}/oauth/callback?code=abc`)).status).toBe(400)

    gw.advance(11 * 60_000)
    const expired = await visit(callback)
    expect(expired.status).toBe(400)
    expect(expired.text).toContain('expired')
    expect(issued.filter((i) => i.grantType === 'authorization_code')).toHaveLength(0)
    expect(await grantRows()).toHaveLength(0)
  })

  it('S10: a token_url in the callback cannot redirect the exchange', async () => {
    await gw.store.sql.query('DELETE FROM oauth_grants')
    const {callback} = await authorize()
    const tampered = new URL(callback)
    for (const name of ['token_url', 'tokenUrl', 'token_endpoint', 'redirect_uri']) tampered.searchParams.set(name, `${evilUrl}/token`)
    expect((await visit(tampered.toString())).status).toBe(200)
    expect(evilHits).toBe(0)
    expect(issued.filter((i) => i.grantType === 'authorization_code')).toHaveLength(1)
    const {accessToken} = await gw.grants.accessToken({orgId: acme.orgId, userId: acme.userId, agentId: 'support', kind: 'mcp', target: 'docs'})
    expect(accessToken).not.toBe('evil-token')
  })

  it('PKCE: the provider checks the verifier — a wrong one fails and nothing is stored', async () => {
    await gw.store.sql.query('DELETE FROM oauth_grants')
    const {callback, state} = await authorize()
    const stateHash = sha256Hex(state)
    const wrong = 'W'.repeat(43)
    await gw.store.sql.query('UPDATE oauth_states SET code_verifier = $1 WHERE state_hash = $2', [encryptSecret(gw.gateway.installKey, wrong, `oauth-state/${stateHash}`), stateHash])
    const res = await visit(callback)
    expect(res.status).toBe(502)
    expect(res.text).toContain('refused')
    expect(issued).toHaveLength(0) // the mock server answered 400 before issuing anything
    expect(await grantRows()).toHaveLength(0)
  })

  it('the provider’s own error on the callback is a 400 and consumes the state', async () => {
    const start = await api('/api/v1/oauth/connect', {body: {agentId: 'support', target: 'docs'}})
    const denied = await visit(`${gw.url}/oauth/callback?state=${encodeURIComponent(start.body.state)}&error=access_denied`)
    expect(denied.status).toBe(400)
    expect(denied.text).toContain('access_denied')
    expect((await visit(`${gw.url}/oauth/callback?state=${encodeURIComponent(start.body.state)}&code=x`)).status).toBe(400)
  })

  describe('refresh', () => {
    const key = () => ({orgId: acme.orgId, userId: acme.userId, agentId: 'support', kind: 'mcp' as const, target: 'docs'})

    async function connectExpiringIn(seconds: number) {
      await gw.store.sql.query('DELETE FROM oauth_grants')
      provider.service.once('beforeResponse', (res: {body: Record<string, unknown>}) => {
        res.body.expires_in = seconds
        // The mock signs identical JWTs within one second: make the first token recognisable.
        res.body.access_token = `first-access-${Math.random().toString(36).slice(2)}`
      })
      const {callback} = await authorize()
      expect((await visit(callback)).status).toBe(200)
      const first = issued.find((i) => i.grantType === 'authorization_code')!
      issued = []
      return {access: String(first.body.access_token), refresh: String(first.body.refresh_token)}
    }

    it('lazily on use when within 60 s of expiry (connection-token), never leaking the refresh token', async () => {
      const first = await connectExpiringIn(30)
      const res = await api('/oauth/connection-token', {body: {org: 'acme', connector: 'docs'}})
      expect(res.status, res.text).toBe(200)
      expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_at'])
      const refreshCall = issued.find((i) => i.grantType === 'refresh_token')
      expect(refreshCall).toBeDefined()
      expect(res.body.access_token).toBe(refreshCall!.body.access_token)
      expect(res.body.access_token).not.toBe(first.access)
      expect(Date.parse(res.body.expires_at) - Date.now()).toBeGreaterThan(50 * 60_000)

      // Still valid now: the next call does not refresh again.
      issued = []
      const again = await api('/oauth/connection-token', {body: {org: acme.orgId, connector: 'support/docs'}})
      expect(again.body.access_token).toBe(res.body.access_token)
      expect(issued).toHaveLength(0)
      for (const text of responses) {
        expect(text).not.toContain(first.refresh)
        expect(text).not.toContain(String(refreshCall!.body.refresh_token))
      }
    })

    it('by the periodic job, ahead of expiry', async () => {
      const first = await connectExpiringIn(120)
      const before = (await grantRows())[0]!
      const result = await gw.grants.refreshDue(5 * 60_000)
      expect(result).toEqual({refreshed: 1, failed: 0})
      expect(issued.map((i) => i.grantType)).toEqual(['refresh_token'])
      const after = (await grantRows())[0]!
      expect(new Date(after.expires_at as string).getTime()).toBeGreaterThan(new Date(before.expires_at as string).getTime())
      const {accessToken} = await gw.grants.accessToken(key())
      expect(accessToken).not.toBe(first.access)
      expect(accessToken).toBe(issued[0]!.body.access_token)
    })

    it('the job runs on its own and stops with the gateway', async () => {
      // Every token this provider issues now expires within the job's look-ahead: each tick refreshes.
      const short = (res: {body: Record<string, unknown>}) => {
        res.body.expires_in = 90
      }
      provider.service.on('beforeResponse', short)
      const ticking = await startOAuthGateway(driver, {refreshIntervalMs: 25})
      try {
        const org = await ticking.passwordOrg('tick')
        await ticking.api('/api/v1/agents/support', {method: 'PUT', token: org.token, body: agentWithOAuth(provider.issuer.url!)})
        const tok = (await ticking.mint(['oauth'], org.token)).token
        const start = await ticking.api('/api/v1/oauth/connect', {token: tok, body: {agentId: 'support', target: 'docs'}})
        const redirect = await fetch(start.body.authorizeUrl, {redirect: 'manual'})
        expect((await rawRequest(redirect.headers.get('location')!)).status).toBe(200)
        const refreshes = () => issued.filter((x) => x.grantType === 'refresh_token').length
        for (let i = 0; i < 400 && refreshes() < 2; i++) await new Promise((r) => setTimeout(r, 25))
        expect(refreshes()).toBeGreaterThanOrEqual(2)
        await ticking.close()
        issued = []
        await new Promise((r) => setTimeout(r, 200))
        expect(issued).toHaveLength(0)
      } finally {
        provider.service.off('beforeResponse', short)
        await ticking.close()
      }
    })

    it('a refused refresh marks the grant needs_reauth', async () => {
      await connectExpiringIn(30)
      provider.service.once('beforeResponse', (res: {body: Record<string, unknown>; statusCode: number}) => {
        res.body = {error: 'invalid_grant', error_description: 'refresh token revoked'}
        res.statusCode = 400
      })
      const res = await api('/oauth/connection-token', {body: {org: 'acme', connector: 'docs'}})
      expect(res.status).toBe(409)
      expect(res.body.error.code).toBe('NEEDS_REAUTH')
      const list = await api('/api/v1/oauth/connections')
      expect(list.body[0]).toMatchObject({target: 'docs', status: 'needs_reauth'})
      // No further refresh attempts for a grant that needs re-authorization.
      issued = []
      expect((await api('/oauth/connection-token', {body: {org: 'acme', connector: 'docs'}})).status).toBe(409)
      expect(await gw.grants.refreshDue()).toEqual({refreshed: 0, failed: 0})
      expect(issued).toHaveLength(0)
      // Connecting again makes it active.
      const {callback} = await authorize()
      expect((await visit(callback)).status).toBe(200)
      expect((await api('/api/v1/oauth/connections')).body[0].status).toBe('active')
    })
  })

  describe('S11: POST /oauth/connection-token', () => {
    it('401 without a valid bearer, 403 for a default-scope token, 400 for a malformed body', async () => {
      const {callback} = await authorize()
      await visit(callback)
      expect((await api('/oauth/connection-token', {token: null, body: {org: 'acme', connector: 'docs'}})).status).toBe(401)
      expect((await api('/oauth/connection-token', {token: 'lobu_pat_' + 'x'.repeat(43), body: {org: 'acme', connector: 'docs'}})).status).toBe(401)
      const defaults = await gw.mint(['agents:read', 'agents:write', 'chat'], acme.token)
      const forbidden = await api('/oauth/connection-token', {token: defaults.token, body: {org: 'acme', connector: 'docs'}})
      expect(forbidden.status).toBe(403)
      expect(forbidden.body.error.message).toContain('connections:token')
      expect((await api('/oauth/connection-token', {body: {org: 'acme'}})).status).toBe(400)
      expect((await api('/oauth/connection-token', {body: '{not json', headers: {'content-type': 'application/json'}})).status).toBe(400)
      expect((await api('/oauth/connection-token', {body: {org: 'acme', connector: 42}})).status).toBe(400)
    })

    it('403 for an org the token is not a member of; 404 for another member’s or a missing connection', async () => {
      const {callback} = await authorize()
      await visit(callback)
      // A member of another org.
      const other = await gw.passwordOrg('other')
      const otherToken = (await gw.mint(['connections:token'], other.token)).token
      expect((await api('/oauth/connection-token', {token: otherToken, body: {org: 'acme', connector: 'docs'}})).status).toBe(403)
      // Another owner of acme (a member's token never carries connections:token), without a connection of their own.
      await gw.member('acme', 'mallory@acme.example', 'owner')
      const mallory = await pageToken(gw, 'mallory@acme.example', 'connections:token oauth', 'acme')
      const theirs = await api('/oauth/connection-token', {token: mallory, body: {org: 'acme', connector: 'docs'}})
      expect(theirs.status).toBe(404)
      const grantId = (await api('/api/v1/oauth/connections')).body[0].id
      const byId = await api('/oauth/connection-token', {token: mallory, body: {org: 'acme', connector: grantId}})
      expect(byId.status).toBe(404)
      const missing = await api('/oauth/connection-token', {body: {org: 'acme', connector: 'nothing'}})
      expect(missing.status).toBe(404)
      expect(theirs.body.error.code).toBe(missing.body.error.code)
      expect(theirs.body.error.message).toBe(missing.body.error.message.replace('"nothing"', '"docs"'))
      // Nor can they list or delete it.
      expect((await api('/api/v1/oauth/connections', {token: mallory})).body).toEqual([])
      expect((await api(`/api/v1/oauth/connections/${grantId}`, {method: 'DELETE', token: mallory})).status).toBe(404)
      expect((await api('/api/v1/oauth/connections')).body).toHaveLength(1)
    })

    it('the owner gets only {access_token, expires_at}; DELETE removes the connection', async () => {
      const {callback} = await authorize()
      await visit(callback)
      const viaDevice = await deviceToken(gw, acme.token, 'connections:token')
      const res = await api('/oauth/connection-token', {token: viaDevice, body: {org: 'acme', connector: 'docs'}})
      expect(res.status).toBe(200)
      expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_at'])
      expect(res.text).not.toMatch(/refresh|secret|id_token/i)
      const id = (await api('/api/v1/oauth/connections')).body[0].id
      expect((await api(`/api/v1/oauth/connections/${id}`, {method: 'DELETE'})).body).toEqual({id, deleted: true})
      expect((await api('/oauth/connection-token', {body: {org: 'acme', connector: 'docs'}})).status).toBe(404)
      expect(await grantRows()).toHaveLength(0)
    })
  })

  it('deleting the agent deletes its grants and pending states', async () => {
    await api('/api/v1/agents/temp', {method: 'PUT', token: acme.token, body: agentWithOAuth(provider.issuer.url!)})
    const start = await api('/api/v1/oauth/connect', {body: {agentId: 'temp', target: 'docs'}})
    const redirect = await fetch(start.body.authorizeUrl, {redirect: 'manual'})
    expect((await visit(redirect.headers.get('location')!)).status).toBe(200)
    expect((await api('/api/v1/oauth/connections?agentId=temp')).body).toHaveLength(1)
    await api('/api/v1/oauth/connect', {body: {agentId: 'temp', target: 'docs'}})
    expect((await api('/api/v1/agents/temp', {method: 'DELETE', token: acme.token})).status).toBe(200)
    expect((await api('/api/v1/oauth/connections?agentId=temp')).body).toEqual([])
    expect(await gw.store.sql.query(`SELECT 1 FROM oauth_states WHERE agent_id = 'temp'`)).toEqual([])
  })
})

/**
 * Roles are enforced in the auth layer: effective scopes = token scopes ∩ role, per request.
 * A member's token (however it was minted) cannot write agents, apply or manage members; an
 * owner's can; a demotion bites on the next request; a member's device login carries no
 * write scope.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {OWNER_SCOPES} from '../../../../src/lib/contract/scopes.js'
import {mintToken} from '../../../../src/lib/gateway/auth/token-service.js'
import {driverNames, startTestGateway, type TestGateway, type TestOrg} from '../../../support/gateway.js'

const PASSWORD = 'correct horse battery staple'
const GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

describe.each(driverNames())('roles (%s)', (driver) => {
  let gw: TestGateway
  let org: TestOrg
  let other: TestOrg

  beforeAll(async () => {
    gw = await startTestGateway({driver, team: true})
    org = await gw.createOrg()
    other = await gw.createOrg()
  })
  afterAll(() => gw?.close())

  /** Add a user to `org` with a role (admin API) and mint them a token with EVERY owner scope. */
  async function person(role: 'owner' | 'member', o: TestOrg = org): Promise<{email: string; userId: string; token: string}> {
    const email = `${role}-${Math.random().toString(36).slice(2, 8)}@${o.slug}.example`
    const res = await gw.api(`/api/v1/admin/orgs/${o.slug}/members`, {method: 'POST', body: {email, name: email, password: PASSWORD, role}})
    expect(res.status, res.text).toBe(201)
    const {token} = await mintToken(gw.store, {orgId: o.orgId, userId: res.body.user.id, name: 'all', scopes: [...OWNER_SCOPES], expiresAt: null})
    return {email, userId: res.body.user.id, token}
  }

  const agent = {providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]}
  const desired = {project: 'p', agents: [], secrets: {}}

  it('a member token minted with every scope still cannot write agents, apply or manage members', async () => {
    const m = await person('member')
    for (const [method, path, body] of [
      ['PUT', '/api/v1/agents/x', agent],
      ['DELETE', '/api/v1/agents/default', undefined],
      ['POST', '/api/v1/apply/plan', desired],
      ['GET', '/api/v1/members', undefined],
      ['POST', '/api/v1/members', {email: 'x@y.example', role: 'owner'}],
      ['PUT', `/api/v1/members/${encodeURIComponent(org.email)}`, {role: 'member'}],
      ['GET', '/api/v1/admin/orgs', undefined],
    ] as const) {
      const res = await gw.api(path, {method, body, token: m.token})
      expect(res.status, `${method} ${path}`).toBe(403)
      expect(res.body.error.code, `${method} ${path}`).toBe('FORBIDDEN_ROLE')
    }
    const put = await gw.api('/api/v1/agents/x', {method: 'PUT', body: agent, token: m.token})
    expect(put.body.error.message).toMatch(/needs the owner role in organization ".*"/)
    // What a member may do.
    expect((await gw.api('/api/v1/agents', {token: m.token})).status).toBe(200)
    expect((await gw.api('/api/v1/agents/default', {token: m.token})).status).toBe(200)
    // Its own tokens, only with member scopes.
    const minted = await gw.api('/api/v1/tokens', {method: 'POST', token: m.token, body: {name: 'chat', scopes: ['chat', 'agents:read']}})
    expect(minted.status).toBe(201)
    const wider = await gw.api('/api/v1/tokens', {method: 'POST', token: m.token, body: {name: 'w', scopes: ['agents:write']}})
    expect(wider.status).toBe(403)
    // whoami shows the token's stored scopes; the member's requests use the effective ones.
    expect((await gw.api('/api/v1/agents/x', {token: m.token})).status).toBe(403)
  })

  it('an owner writes agents, applies and manages members', async () => {
    expect((await gw.api('/api/v1/agents/owned', {method: 'PUT', body: agent, token: org.token})).status).toBe(201)
    expect((await gw.api('/api/v1/apply/plan', {method: 'POST', body: desired, token: org.token})).status).toBe(200)
    const added = await gw.api('/api/v1/members', {method: 'POST', token: org.token, body: {email: `new-${Date.now()}@${org.slug}.example`}})
    expect(added.status, added.text).toBe(201)
    expect(added.body.role).toBe('member')
    const list = await gw.api('/api/v1/members', {token: org.token})
    expect(list.status).toBe(200)
    expect(list.body.members.map((m: {email: string}) => m.email)).toContain(org.email)
  })

  it('a demoted owner loses write on its very next request; a removed member is logged out', async () => {
    const o2 = await person('owner')
    expect((await gw.api('/api/v1/agents/by-o2', {method: 'PUT', body: agent, token: o2.token})).status).toBe(201)
    const demote = await gw.api(`/api/v1/members/${encodeURIComponent(o2.email)}`, {method: 'PUT', token: org.token, body: {role: 'member'}})
    expect(demote.status, demote.text).toBe(200)
    expect(demote.body.role).toBe('member')
    const after = await gw.api('/api/v1/agents/by-o2', {method: 'PUT', body: agent, token: o2.token})
    expect(after.status).toBe(403)
    expect(after.body.error.code).toBe('FORBIDDEN_ROLE')

    const removed = await gw.api(`/api/v1/members/${o2.userId}`, {method: 'DELETE', token: org.token})
    expect(removed.status).toBe(200)
    expect((await gw.api('/api/v1/agents', {token: o2.token})).status).toBe(401)
  })

  it('keeps the last owner, and an owner of another org cannot touch this one', async () => {
    const solo = await gw.createOrg()
    const self = await gw.api(`/api/v1/members/${encodeURIComponent(solo.email)}`, {method: 'PUT', token: solo.token, body: {role: 'member'}})
    expect(self.status).toBe(409)
    expect(self.body.error.code).toBe('LAST_OWNER')
    expect((await gw.api(`/api/v1/members/${solo.userId}`, {method: 'DELETE', token: solo.token})).status).toBe(409)
    // org B's owner names org A's owner: not a member of B → 404, nothing changed.
    const cross = await gw.api(`/api/v1/members/${encodeURIComponent(org.email)}`, {method: 'PUT', token: other.token, body: {role: 'member'}})
    expect(cross.status).toBe(404)
    expect((await gw.api('/api/v1/agents/owned', {method: 'PUT', body: agent, token: org.token})).status).toBe(200)
  })

  it('two concurrent demotions of the two owners leave one owner', async () => {
    const o = await gw.createOrg()
    const second = await person('owner', o)
    const results = await Promise.all([
      gw.api(`/api/v1/admin/orgs/${o.slug}/members/${encodeURIComponent(o.email)}`, {method: 'PUT', body: {role: 'member'}}),
      gw.api(`/api/v1/admin/orgs/${o.slug}/members/${second.userId}`, {method: 'PUT', body: {role: 'member'}}),
    ])
    expect(results.map((r) => r.status).sort()).toEqual([200, 409])
    const members = await gw.api(`/api/v1/admin/orgs/${o.slug}/members`)
    expect(members.body.members.filter((m: {role: string}) => m.role === 'owner')).toHaveLength(1)
  })

  it("a member's device login never gets write scopes", async () => {
    const m = await person('member')
    const code = await gw.api('/oauth/device/code', {token: null, body: {client_id: 'lobu-cli'}})
    expect(code.status).toBe(200)
    const page = await gw.api('/device', {
      token: null,
      body: new URLSearchParams({user_code: code.body.user_code, email: m.email, password: PASSWORD, action: 'approve'}).toString(),
      headers: {'content-type': 'application/x-www-form-urlencoded'},
    })
    expect(page.status, page.text).toBe(200)
    const polled = await gw.api('/oauth/token', {
      token: null,
      body: new URLSearchParams({grant_type: GRANT, device_code: code.body.device_code}).toString(),
      headers: {'content-type': 'application/x-www-form-urlencoded'},
    })
    expect(polled.status, polled.text).toBe(200)
    expect(polled.body.scope.split(' ').sort()).toEqual(['agents:read', 'chat', 'oauth', 'tokens:write'])
    const who = await gw.api('/api/v1/whoami', {token: polled.body.access_token})
    expect(who.body.token.scopes).not.toContain('agents:write')
  })

  it('a minted token never outlives the token that minted it', async () => {
    const hour = await gw.api('/api/v1/tokens', {method: 'POST', token: org.token, body: {name: '1h', scopes: ['chat', 'tokens:write'], expiresIn: '1h'}})
    expect(hour.status).toBe(201)
    const limit = Date.parse(hour.body.expiresAt)
    for (const expiresIn of ['never', '90d', '2h']) {
      const child = await gw.api('/api/v1/tokens', {method: 'POST', token: hour.body.token, body: {name: `from-1h-${expiresIn}`, scopes: ['chat'], expiresIn}})
      expect(child.status, expiresIn).toBe(201)
      expect(child.body.expiresAt, expiresIn).not.toBeNull()
      expect(Date.parse(child.body.expiresAt), expiresIn).toBeLessThanOrEqual(limit)
    }
    const shorter = await gw.api('/api/v1/tokens', {method: 'POST', token: hour.body.token, body: {name: 'short', scopes: ['chat'], expiresIn: '10m'}})
    expect(Date.parse(shorter.body.expiresAt)).toBeLessThan(limit)
    // Nor more than it holds.
    expect((await gw.api('/api/v1/tokens', {method: 'POST', token: hour.body.token, body: {name: 'wider', scopes: ['agents:write']}})).status).toBe(403)
  })
})

/**
 * Device login (RFC 8628) on the gateway: code request, polling errors, the /device page,
 * approval with a token, rate limits, and what is stored.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DEVICE_DEFAULT_SCOPES} from '../../../../src/lib/gateway/oauth/device.js'
import {driverNames} from '../../../support/gateway.js'
import {PASSWORD, startOAuthGateway, type OAuthTestGateway} from './helpers.js'

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/

describe.each(driverNames())('device login (%s)', (driver) => {
  let gw: OAuthTestGateway
  let acme: Awaited<ReturnType<OAuthTestGateway['passwordOrg']>>

  beforeAll(async () => {
    gw = await startOAuthGateway(driver)
    acme = await gw.passwordOrg('acme')
  })
  afterAll(async () => {
    await gw?.close()
  })

  const newCode = async (body: Record<string, unknown> = {client_id: 'lobu-cli'}) => {
    const res = await gw.api('/oauth/device/code', {token: null, body})
    expect(res.status, res.text).toBe(200)
    return res.body as {device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; expires_in: number; interval: number}
  }
  const poll = (deviceCode: string, extra: Record<string, string> = {}) => gw.form('/oauth/token', {grant_type: GRANT, device_code: deviceCode, ...extra})
  const approveOnPage = (userCode: string, fields: Record<string, string> = {}) =>
    gw.form('/device', {user_code: userCode, email: acme.email, password: PASSWORD, action: 'approve', ...fields})

  describe('POST /oauth/device/code', () => {
    it('answers the RFC 8628 fields, as JSON or form, without a token', async () => {
      const code = await newCode()
      expect(code.user_code).toMatch(USER_CODE)
      expect(code.device_code.length).toBeGreaterThanOrEqual(43)
      expect(code.verification_uri).toBe(`${gw.url}/device`)
      expect(code.verification_uri_complete).toBe(`${gw.url}/device?user_code=${code.user_code}`)
      expect(code.expires_in).toBe(600)
      expect(code.interval).toBe(5)
      const viaForm = await gw.form('/oauth/device/code', {client_id: 'lobu-cli', scope: 'chat agents:read'})
      expect(viaForm.status).toBe(200)
      expect(viaForm.body.user_code).toMatch(USER_CODE)
      expect(viaForm.body.user_code).not.toBe(code.user_code)
    })

    it('rejects a missing client_id, unknown scopes and bodies it cannot read', async () => {
      const missing = await gw.form('/oauth/device/code', {scope: 'chat'})
      expect(missing.status).toBe(400)
      expect(missing.body.error).toBe('invalid_request')
      const scope = await gw.form('/oauth/device/code', {client_id: 'x', scope: 'chat root'})
      expect(scope.status).toBe(400)
      expect(scope.body).toMatchObject({error: 'invalid_scope'})
      expect(scope.body.error_description).toContain('root')
      const junk = await gw.api('/oauth/device/code', {token: null, body: '{nope', headers: {'content-type': 'application/json'}})
      expect(junk.status).toBe(400)
      expect(junk.body.error).toBe('invalid_request')
    })

    it('stores device and user codes hashed only', async () => {
      const code = await newCode()
      const rows = await gw.store.sql.query<Record<string, unknown>>('SELECT * FROM oauth_device_codes')
      const dump = JSON.stringify(rows)
      expect(rows.length).toBeGreaterThan(0)
      expect(dump).not.toContain(code.device_code)
      expect(dump).not.toContain(code.user_code)
      expect(dump).not.toContain(code.user_code.replace('-', ''))
    })
  })

  describe('POST /oauth/token', () => {
    it('answers RFC errors for a bad grant type, an unknown code and a missing code', async () => {
      const unsupported = await gw.form('/oauth/token', {grant_type: 'password', username: 'a', password: 'b'})
      expect(unsupported.status).toBe(400)
      expect(unsupported.body.error).toBe('unsupported_grant_type')
      expect((await poll('not-a-real-device-code')).body.error).toBe('invalid_grant')
      const missing = await gw.form('/oauth/token', {grant_type: GRANT})
      expect(missing.body.error).toBe('invalid_request')
    })

    it('authorization_pending, then slow_down (interval += 5) when polling faster than the interval', async () => {
      const code = await newCode()
      const first = await poll(code.device_code)
      expect(first.status).toBe(400)
      expect(first.body.error).toBe('authorization_pending')
      const fast = await poll(code.device_code)
      expect(fast.body.error).toBe('slow_down')
      expect(fast.body.error_description).toContain('10 seconds')
      gw.advance(6_000) // more than the old interval, less than the new one
      expect((await poll(code.device_code)).body.error).toBe('slow_down')
      gw.advance(16_000)
      expect((await poll(code.device_code)).body.error).toBe('authorization_pending')
    })

    it('expired_token once the code has expired', async () => {
      const code = await newCode()
      gw.advance(601_000)
      const res = await poll(code.device_code)
      expect(res.status).toBe(400)
      expect(res.body.error).toBe('expired_token')
      const page = await gw.api(`/device?user_code=${code.user_code}`, {token: null})
      expect(page.status).toBe(400)
    })

    it('a code issued to another client is invalid_grant', async () => {
      const code = await newCode({client_id: 'one'})
      expect((await poll(code.device_code, {client_id: 'two'})).body.error).toBe('invalid_grant')
    })
  })

  describe('the /device page', () => {
    it('GET /device asks for a code; with a code it shows the client and the scopes, self-contained', async () => {
      const empty = await gw.api('/device', {token: null})
      expect(empty.status).toBe(200)
      expect(empty.headers['content-type']).toContain('text/html')
      expect(empty.text).toContain('name="user_code"')

      const code = await newCode({client_id: 'lobu-cli', scope: 'chat agents:read'})
      const page = await gw.api(`/device?user_code=${code.user_code.toLowerCase().replace('-', '')}`, {token: null})
      expect(page.status).toBe(200)
      expect(page.text).toContain('lobu-cli')
      expect(page.text).toContain('agents:read, chat')
      expect(page.text).toContain(code.user_code)
      expect(page.text).toMatch(/<form method="post" action="\/device">/)
      expect(page.text).not.toMatch(/<script|src=|href=|https?:\/\//)
      expect(page.headers['content-security-policy']).toContain("default-src 'none'")
      expect(page.headers['x-frame-options']).toBe('DENY')
    })

    it('escapes what the client sent', async () => {
      const code = await newCode({client_id: '<b>evil</b>'})
      const page = await gw.api(`/device?user_code=${code.user_code}`, {token: null})
      expect(page.text).toContain('&lt;b&gt;evil&lt;/b&gt;')
      expect(page.text).not.toContain('<b>evil</b>')
    })

    it('full login: wrong password → 401, then approve → the poll returns a PAT of that user in the org', async () => {
      const code = await newCode()
      const wrong = await approveOnPage(code.user_code, {password: 'not the password'})
      expect(wrong.status).toBe(401)
      expect(wrong.text).toContain('Wrong email or password')
      expect((await poll(code.device_code)).body.error).toBe('authorization_pending')

      const ok = await approveOnPage(code.user_code)
      expect(ok.status, ok.text).toBe(200)
      expect(ok.text).toContain('Device approved')

      gw.advance(6_000)
      const tok = await poll(code.device_code, {client_id: 'lobu-cli'})
      expect(tok.status, tok.text).toBe(200)
      expect(tok.body).toMatchObject({token_type: 'Bearer', scope: DEVICE_DEFAULT_SCOPES.join(' '), expires_in: 90 * 86_400})
      expect(tok.body.access_token).toMatch(/^lobu_pat_[0-9A-Za-z]{43}$/)
      expect(tok.headers['cache-control']).toBe('no-store')

      const me = await gw.api('/api/v1/whoami', {token: tok.body.access_token})
      expect(me.status).toBe(200)
      expect(me.body.org.slug).toBe('acme')
      expect(me.body.user.id).toBe(acme.userId)
      expect(me.body.token.scopes).toEqual([...DEVICE_DEFAULT_SCOPES])
      expect(me.body.token.scopes).not.toContain('admin')
      expect(me.body.token.scopes).not.toContain('connections:token')

      // The code is single use.
      gw.advance(6_000)
      expect((await poll(code.device_code)).body.error).toBe('invalid_grant')
      expect((await approveOnPage(code.user_code)).status).toBe(400)
    })

    it('requested scopes are granted as asked; admin only for an admin', async () => {
      const code = await newCode({client_id: 'ci', scope: 'chat connections:token'})
      expect((await approveOnPage(code.user_code)).status).toBe(200)
      const tok = await poll(code.device_code)
      expect(tok.body.scope).toBe('chat connections:token')

      const admin = await newCode({client_id: 'ci', scope: 'admin'})
      const refused = await approveOnPage(admin.user_code)
      expect(refused.status).toBe(403)
      expect(refused.text).toContain('cannot grant: admin')
      expect((await poll(admin.device_code)).body.error).toBe('authorization_pending')
    })

    it('deny needs the same credentials as approve; then access_denied', async () => {
      const code = await newCode()
      const anonymous = await gw.form('/device', {user_code: code.user_code, action: 'deny'})
      expect(anonymous.status).toBe(400)
      const wrong = await gw.form('/device', {user_code: code.user_code, action: 'deny', email: acme.email, password: 'not it'})
      expect(wrong.status).toBe(401)
      expect((await poll(code.device_code)).body.error).toBe('authorization_pending')
      const res = await gw.form('/device', {user_code: code.user_code, action: 'deny', email: acme.email, password: PASSWORD})
      expect(res.status).toBe(200)
      expect(res.text).toContain('denied')
      expect((await poll(code.device_code)).body.error).toBe('access_denied')
    })

    it('a user of several orgs names one; a non-member org is refused', async () => {
      const other = await gw.passwordOrg('beta')
      await gw.member('beta', acme.email)
      const code = await newCode()
      const ambiguous = await approveOnPage(code.user_code)
      expect(ambiguous.status).toBe(403)
      expect(ambiguous.text).toContain('acme, beta')
      expect((await approveOnPage(code.user_code, {org: 'gamma'})).status).toBe(403)
      expect((await approveOnPage(code.user_code, {org: 'beta'})).status).toBe(200)
      const tok = await poll(code.device_code)
      const me = await gw.api('/api/v1/whoami', {token: tok.body.access_token})
      expect(me.body.org.id).toBe(other.orgId)
      expect(me.body.user.id).toBe(acme.userId)
    })

    it('is CSRF-safe: a foreign Origin or a cross-site form post is refused', async () => {
      const code = await newCode()
      const evil = await gw.form('/device', {user_code: code.user_code, email: acme.email, password: PASSWORD, action: 'approve', org: 'acme'}, {origin: 'https://evil.example'})
      expect(evil.status).toBe(403)
      const crossSite = await gw.form('/device', {user_code: code.user_code, email: acme.email, password: PASSWORD, action: 'approve', org: 'acme'}, {'sec-fetch-site': 'cross-site'})
      expect(crossSite.status).toBe(403)
      expect((await poll(code.device_code)).body.error).toBe('authorization_pending')
      const same = await gw.form('/device', {user_code: code.user_code, email: acme.email, password: PASSWORD, action: 'approve', org: 'acme'}, {origin: gw.url, 'sec-fetch-site': 'same-origin'})
      expect(same.status).toBe(200)
    })

    it('rate limits: 5 wrong passwords deny the code; 10 for one email lock that email', async () => {
      const victim = 'ratelimit@acme.example'
      await gw.member('acme', victim)
      const attempt = (userCode: string, password: string) => gw.form('/device', {user_code: userCode, email: victim, password, action: 'approve'})

      const first = await newCode()
      for (let i = 0; i < 4; i++) expect((await attempt(first.user_code, `wrong-${i}`)).status).toBe(401)
      const fifth = await attempt(first.user_code, 'wrong-4')
      expect(fifth.status).toBe(429)
      expect((await poll(first.device_code)).body.error).toBe('access_denied')

      const second = await newCode()
      for (let i = 0; i < 4; i++) expect((await attempt(second.user_code, `again-${i}`)).status).toBe(401)
      expect((await attempt(second.user_code, 'again-4')).status).toBe(429)

      // Ten failures for this email: even the right password waits.
      const third = await newCode()
      const locked = await attempt(third.user_code, PASSWORD)
      expect(locked.status).toBe(429)
      expect(locked.text).toContain('Too many failed attempts for this email')
      gw.advance(16 * 60_000)
      const fresh = await newCode()
      expect((await attempt(fresh.user_code, PASSWORD)).status).toBe(200)
    })
  })

  describe('POST /oauth/device/approve', () => {
    it('approves for the token’s user and org with tokens:write', async () => {
      const code = await newCode({client_id: 'lobu-cli', scope: 'chat'})
      const res = await gw.api('/oauth/device/approve', {token: acme.token, body: {user_code: code.user_code}})
      expect(res.status, res.text).toBe(200)
      expect(res.body).toMatchObject({approved: true, clientId: 'lobu-cli', scopes: ['chat'], org: 'acme'})
      const tok = await poll(code.device_code)
      expect(tok.status).toBe(200)
      const me = await gw.api('/api/v1/whoami', {token: tok.body.access_token})
      expect(me.body.org.slug).toBe('acme')
      expect(me.body.token.scopes).toEqual(['chat'])
    })

    it('401 without a token, 403 without tokens:write or for scopes the token lacks, 400 for a bad code', async () => {
      const code = await newCode({client_id: 'lobu-cli', scope: 'chat admin'})
      expect((await gw.api('/oauth/device/approve', {token: null, body: {user_code: code.user_code}})).status).toBe(401)
      const chatOnly = await gw.mint(['chat'], acme.token)
      expect((await gw.api('/oauth/device/approve', {token: chatOnly.token, body: {user_code: code.user_code}})).status).toBe(403)
      const noAdmin = await gw.api('/oauth/device/approve', {token: acme.token, body: {user_code: code.user_code}})
      expect(noAdmin.status).toBe(403)
      expect(noAdmin.body.error.message).toContain('admin')
      expect((await gw.api('/oauth/device/approve', {token: acme.token, body: {user_code: 'BBBB-BBBB'}})).status).toBe(400)
      expect((await gw.api('/oauth/device/approve', {token: acme.token, body: {}})).status).toBe(400)
      // The install's admin holds admin: it may approve.
      expect((await gw.api('/oauth/device/approve', {body: {user_code: code.user_code}})).status).toBe(200)
    })
  })
})

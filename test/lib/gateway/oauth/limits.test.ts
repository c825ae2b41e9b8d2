/**
 * Attempt limits of the device login on a team gateway: counted before the password is
 * checked, atomically (a burst cannot beat them), per email, per code and per client address;
 * one answer for a wrong password whatever the code's state; anonymous code requests and
 * look-ups limited per address with Retry-After; at most 2 password checks at once.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {HashGate, HashGateBusy} from '../../../../src/lib/gateway/oauth/limits.js'
import {driverNames, rawRequest, startTestGateway, type TestGateway} from '../../../support/gateway.js'

const PASSWORD = 'correct horse battery staple'
const GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

function form(gw: TestGateway, path: string, fields: Record<string, string>) {
  const body = new URLSearchParams(fields).toString()
  return rawRequest(gw.url + path, {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body))}, body})
}

describe.each(driverNames())('device login limits on a team gateway (%s)', (driver) => {
  let gw: TestGateway
  let slug: string

  beforeAll(async () => {
    gw = await startTestGateway({driver, team: true, services: {oauth: {refreshIntervalMs: 0}}})
    slug = (await gw.createOrg()).slug
  })
  afterAll(() => gw?.close())

  const person = async (email: string) => {
    const res = await gw.api(`/api/v1/admin/orgs/${slug}/members`, {method: 'POST', body: {email, name: email, password: PASSWORD, role: 'member'}})
    expect(res.status, res.text).toBe(201)
  }
  const newCode = async () => {
    const res = await form(gw, '/oauth/device/code', {client_id: 'attacker-cli'})
    expect(res.status, res.text).toBe(200)
    return res.body as {device_code: string; user_code: string}
  }

  it('answers a wrong password the same way whether the code is pending, unknown or used (runs first: the burst below uses up this address)', async () => {
    const email = `oracle-${driver}@x.example`
    await person(email)
    const pending = await newCode()
    const a = await form(gw, '/device', {user_code: pending.user_code, email, password: 'nope', action: 'approve'})
    const b = await form(gw, '/device', {user_code: 'BBBB-CCCC', email, password: 'nope', action: 'approve'})
    expect([a.status, b.status]).toEqual([401, 401])
    expect(a.text).toContain('Wrong email or password.')
    expect(b.text).toContain('Wrong email or password.')
    // An anonymous deny leaves the code pending.
    expect((await form(gw, '/device', {user_code: pending.user_code, action: 'deny'})).status).toBe(400)
    const poll = await form(gw, '/oauth/token', {grant_type: GRANT, device_code: pending.device_code})
    expect(poll.body.error).toBe('authorization_pending')
  })

  it('40 concurrent guesses over 10 codes, the right password last: no token is issued', async () => {
    const victim = `burst-${driver}@x.example`
    await person(victim)
    const codes = []
    for (let i = 0; i < 10; i++) codes.push(await newCode())
    const guesses: Promise<{status: number}>[] = []
    for (let i = 0; i < 39; i++) guesses.push(form(gw, '/device', {user_code: codes[i % 10]!.user_code, email: victim, password: `guess-${i}`, action: 'approve'}))
    await new Promise((r) => setImmediate(r))
    guesses.push(form(gw, '/device', {user_code: codes[9]!.user_code, email: victim, password: PASSWORD, action: 'approve'}))
    const statuses = (await Promise.all(guesses)).map((r) => r.status)
    expect(statuses[39]).not.toBe(200)
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10)
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(29)
    for (const code of codes) {
      const poll = await form(gw, '/oauth/token', {grant_type: GRANT, device_code: code.device_code})
      expect(poll.body.access_token).toBeUndefined()
    }
  })

  it('limits anonymous device-code requests and code look-ups per address, with Retry-After', async () => {
    const other = await startTestGateway({driver, team: true, services: {oauth: {refreshIntervalMs: 0}}})
    try {
      const codes = await Promise.all(Array.from({length: 60}, () => form(other, '/oauth/device/code', {client_id: 'x'})))
      const ok = codes.filter((r) => r.status === 200)
      const limited = codes.filter((r) => r.status === 429)
      expect(ok.length).toBe(30)
      expect(limited.length).toBe(30)
      expect(Number(limited[0]!.headers['retry-after'])).toBeGreaterThan(0)
      const rows = await other.store.sql.query<{n: number}>('SELECT count(*)::int AS n FROM oauth_device_codes')
      expect(Number(rows[0]!.n)).toBe(30)

      const lookups = []
      for (let i = 0; i < 31; i++) lookups.push(await rawRequest(`${other.url}/device?user_code=BBBB-CCCC`))
      expect(lookups.slice(0, 30).every((r) => r.status === 400)).toBe(true)
      expect(lookups[30]!.status).toBe(429)
      expect(lookups[30]!.headers['retry-after']).toBeDefined()
    } finally {
      await other.close()
    }
  })
})

describe('HashGate', () => {
  it('runs at most 2 at once, queues up to its bound, refuses beyond', async () => {
    const gate = new HashGate(2, 3)
    let running = 0
    let peak = 0
    const release: Array<() => void> = []
    const job = () =>
      gate.run(async () => {
        running++
        peak = Math.max(peak, running)
        await new Promise<void>((r) => release.push(r))
        running--
      })
    const jobs = Array.from({length: 5}, job)
    await expect(job()).rejects.toBeInstanceOf(HashGateBusy)
    while (release.length > 0 || running > 0) {
      await new Promise((r) => setImmediate(r))
      release.shift()?.()
    }
    await Promise.all(jobs)
    expect(peak).toBe(2)
  })
})

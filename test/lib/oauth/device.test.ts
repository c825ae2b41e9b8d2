/**
 * The CLI's device-code poller with a fake clock and scripted gateway answers: it honours
 * `interval`, slows down on `slow_down` for good, and ends on denial, expiry or a token.
 */
import {describe, expect, it} from 'vitest'

import {DEVICE_GRANT_TYPE, pollForToken, type FormResponse, type PostForm} from '../../../src/lib/oauth/device.js'

function scripted(answers: Array<FormResponse | Error>) {
  const requests: Array<{url: string; fields: Record<string, string>; at: number}> = []
  let clock = 1_000_000
  const post: PostForm = async (url, fields) => {
    requests.push({url, fields, at: clock})
    const next = answers.shift()
    if (!next) throw new Error('no more scripted answers')
    if (next instanceof Error) throw next
    return next
  }
  const sleeps: number[] = []
  const sleep = async (ms: number) => {
    sleeps.push(ms)
    clock += ms
  }
  return {post, sleep, now: () => clock, sleeps, requests}
}

const pending: FormResponse = {status: 400, body: {error: 'authorization_pending'}}
const slowDown: FormResponse = {status: 400, body: {error: 'slow_down'}}
const token: FormResponse = {status: 200, body: {access_token: 'lobu_pat_x', token_type: 'Bearer', scope: 'chat', expires_in: 60}}
const code = {device_code: 'dc-123', expires_in: 600, interval: 5}

describe('pollForToken', () => {
  it('waits the interval before every poll and sends the device-code grant', async () => {
    const s = scripted([pending, pending, token])
    const result = await pollForToken({baseUrl: 'http://gw.test', code, post: s.post, sleep: s.sleep, now: s.now})
    expect(result.access_token).toBe('lobu_pat_x')
    expect(s.sleeps).toEqual([5000, 5000, 5000])
    expect(s.requests.map((r) => r.url)).toEqual(Array(3).fill('http://gw.test/oauth/token'))
    expect(s.requests[0]!.fields).toEqual({grant_type: DEVICE_GRANT_TYPE, device_code: 'dc-123', client_id: 'lobu-cli'})
  })

  it('slow_down adds 5 seconds to this and every later poll', async () => {
    const s = scripted([pending, slowDown, pending, slowDown, pending, token])
    const told: number[] = []
    await pollForToken({baseUrl: 'http://gw.test', code, post: s.post, sleep: s.sleep, now: s.now, onSlowDown: (n) => told.push(n)})
    expect(s.sleeps).toEqual([5000, 5000, 10000, 10000, 15000, 15000])
    expect(told).toEqual([10, 15])
    const gaps = s.requests.slice(1).map((r, i) => r.at - s.requests[i]!.at)
    expect(gaps).toEqual([5000, 10000, 10000, 15000, 15000])
  })

  it('defaults to 5 s when the gateway gives no interval', async () => {
    const s = scripted([token])
    await pollForToken({baseUrl: 'http://gw.test', code: {device_code: 'd', expires_in: 600}, post: s.post, sleep: s.sleep, now: s.now})
    expect(s.sleeps).toEqual([5000])
  })

  it('access_denied → AuthError (exit 3); expired_token → exit 1 with a hint', async () => {
    const denied = scripted([pending, {status: 400, body: {error: 'access_denied'}}])
    await expect(pollForToken({baseUrl: 'http://gw.test', code, post: denied.post, sleep: denied.sleep, now: denied.now})).rejects.toMatchObject({
      kind: 'auth',
      message: 'the login was denied',
    })
    const expired = scripted([{status: 400, body: {error: 'expired_token'}}])
    await expect(pollForToken({baseUrl: 'http://gw.test', code, post: expired.post, sleep: expired.sleep, now: expired.now})).rejects.toMatchObject({
      kind: 'failed',
      code: 'EXPIRED_TOKEN',
    })
  })

  it('gives up by itself once expires_in has passed', async () => {
    const s = scripted(Array(200).fill(pending))
    await expect(pollForToken({baseUrl: 'http://gw.test', code: {device_code: 'd', expires_in: 12, interval: 5}, post: s.post, sleep: s.sleep, now: s.now})).rejects.toMatchObject({
      code: 'EXPIRED_TOKEN',
    })
    expect(s.requests).toHaveLength(2)
  })

  it('backs off on a transient network failure, then fails after several in a row', async () => {
    const down = Object.assign(new Error('cannot reach'), {code: 'GATEWAY_UNREACHABLE'})
    const s = scripted([down, pending, token])
    await pollForToken({baseUrl: 'http://gw.test', code, post: s.post, sleep: s.sleep, now: s.now})
    expect(s.sleeps).toEqual([5000, 10000, 10000])
    const dead = scripted([down, down, down, down])
    await expect(pollForToken({baseUrl: 'http://gw.test', code: {...code, expires_in: 100_000}, post: dead.post, sleep: dead.sleep, now: dead.now})).rejects.toBe(down)
  })

  it('an unknown error is reported with its description', async () => {
    const s = scripted([{status: 400, body: {error: 'invalid_grant', error_description: 'unknown or already used device code'}}])
    await expect(pollForToken({baseUrl: 'http://gw.test', code, post: s.post, sleep: s.sleep, now: s.now})).rejects.toThrow(
      'the login failed: invalid_grant (unknown or already used device code)',
    )
  })
})

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {RouteModule} from '../../../../src/lib/gateway/http/types.js'
import {driverNames, rawRequest, startTestGateway, type TestGateway} from '../../../support/gateway.js'

/** A route that fails like a bug would, to check that 500s carry no stack. */
const boom: RouteModule = {
  name: 'boom',
  register(app) {
    app.get('/api/v1/test-boom', () => {
      throw new Error('kaboom secret-internal-detail')
    })
  },
}

/** Small deterministic PRNG (mulberry32) so a failure is reproducible. */
function prng(seed: number) {
  return () => {
    seed |= 0
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe.each(driverNames())('gateway hardening (%s)', (driver) => {
  let gw: TestGateway
  const logged: string[] = []
  beforeAll(async () => {
    gw = await startTestGateway({driver, routes: [boom], logger: (_level, msg) => void logged.push(msg)})
  })
  afterAll(async () => {
    await gw?.close()
  })

  describe('S8: loopback host and origin', () => {
    it('refuses a non-loopback Host header (DNS rebinding)', async () => {
      for (const host of ['evil.example', 'evil.example:' + gw.gateway.port, '127.0.0.1.evil.example', '10.0.0.1']) {
        const res = await gw.api('/health', {headers: {host}})
        expect(res.status, host).toBe(403)
        expect(res.body.error.code).toBe('FORBIDDEN_HOST')
      }
      for (const host of ['127.0.0.1', `127.0.0.1:${gw.gateway.port}`, 'localhost', `localhost:${gw.gateway.port}`, '[::1]', `[::1]:${gw.gateway.port}`]) {
        expect((await gw.api('/health', {headers: {host}})).status, host).toBe(200)
      }
    })

    it('refuses a foreign Origin; its own origin passes', async () => {
      for (const origin of ['https://evil.example', 'http://127.0.0.1:1', 'null', `http://127.0.0.1:${gw.gateway.port}.evil.example`]) {
        const res = await gw.api('/api/v1/whoami', {headers: {origin}})
        expect(res.status, origin).toBe(403)
        expect(res.body.error.code).toBe('FORBIDDEN_ORIGIN')
        const pre = await gw.api('/api/v1/agents', {method: 'OPTIONS', token: null, headers: {origin, 'access-control-request-method': 'PUT'}})
        expect(pre.status).toBe(403)
        expect(Object.keys(pre.headers).filter((h) => h.startsWith('access-control-'))).toEqual([])
      }
      expect((await gw.api('/api/v1/whoami', {headers: {origin: gw.url}})).status).toBe(200)
      expect((await gw.api('/api/v1/whoami', {headers: {origin: `http://localhost:${gw.gateway.port}`}})).status).toBe(200)
    })
  })

  describe('S9: bodies', () => {
    it('a 2 MiB body is 413 and the server keeps serving', async () => {
      const big = JSON.stringify({name: 'x'.repeat(2 * 1024 * 1024), scopes: ['chat']})
      const res = await gw.api('/api/v1/tokens', {method: 'POST', body: big, headers: {'content-type': 'application/json'}})
      expect(res.status).toBe(413)
      expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE')
      expect((await gw.api('/health')).status).toBe(200)
    })

    it('a 2 MiB chunked body (no content-length) is 413 too', async () => {
      const res = await rawRequest(`${gw.url}/api/v1/tokens`, {
        method: 'POST',
        headers: {authorization: `Bearer ${gw.adminToken}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked'},
        body: Buffer.alloc(2 * 1024 * 1024, 'a'),
      })
      expect(res.status).toBe(413)
      expect((await gw.api('/health')).status).toBe(200)
    })

    it('a JSON body is read the same with a Content-Length, chunked, or after a UTF-8 BOM', async () => {
      const body = JSON.stringify({name: 'body ✓ read', scopes: ['chat']})
      const headers = {authorization: `Bearer ${gw.adminToken}`, 'content-type': 'application/json'}
      const sized = await rawRequest(`${gw.url}/api/v1/tokens`, {method: 'POST', headers: {...headers, 'content-length': String(Buffer.byteLength(body))}, body})
      const chunked = await rawRequest(`${gw.url}/api/v1/tokens`, {method: 'POST', headers: {...headers, 'transfer-encoding': 'chunked'}, body})
      const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)])
      const bom = await rawRequest(`${gw.url}/api/v1/tokens`, {method: 'POST', headers: {...headers, 'content-length': String(withBom.length)}, body: withBom})
      for (const res of [sized, chunked, bom]) {
        expect(res.status, res.text).toBe(201)
        expect(res.body).toMatchObject({name: 'body ✓ read', scopes: ['chat']})
      }
    })

    it('malformed JSON is 400 INVALID_JSON naming the problem', async () => {
      const res = await gw.api('/api/v1/tokens', {method: 'POST', body: '{bad json', headers: {'content-type': 'application/json'}})
      expect(res.status).toBe(400)
      expect(res.body.error.code).toBe('INVALID_JSON')
      expect(res.body.error.message).toMatch(/malformed JSON.*position|JSON/i)
      const empty = await gw.api('/api/v1/tokens', {method: 'POST', body: '', headers: {'content-type': 'application/json'}})
      expect(empty.status).toBe(400)
      expect(empty.body.error.code).toBe('INVALID_JSON')
    })

    it('200 random garbage bodies all get a 4xx, and the server still answers', async () => {
      const rand = prng(20240601)
      const targets: Array<[string, string]> = [
        ['POST', '/api/v1/tokens'],
        ['PUT', '/api/v1/agents/fuzz'],
        ['POST', '/api/v1/admin/orgs'],
        ['POST', '/api/v1/admin/orgs/local/members'],
        ['DELETE', '/api/v1/tokens/%E0%A4%A'],
        ['PUT', '/api/v1/agents/%00%ff'],
      ]
      const fragments = ['{', '}', '[', ']', '"', ':', ',', 'null', 'true', '1e999', '-0', '\\u0000', '"scopes"', '"name"', '"providers"', '{"a":', '\u{1F600}', '\uFFFF', ' ']
      const statuses: number[] = []
      for (let i = 0; i < 200; i++) {
        const [method, path] = targets[Math.floor(rand() * targets.length)]
        let body: string | Buffer
        if (i % 3 === 0) body = Buffer.from(Array.from({length: Math.floor(rand() * 512)}, () => Math.floor(rand() * 256)))
        else if (i % 3 === 1) body = Array.from({length: Math.floor(rand() * 40)}, () => fragments[Math.floor(rand() * fragments.length)]).join('')
        else body = JSON.stringify({name: rand() > 0.5 ? 1 : 'n', scopes: rand() > 0.5 ? 'chat' : [Math.floor(rand() * 10)], providers: [{id: rand()}], slug: '-', owner: null})
        const res = await gw.api(path, {method, body, headers: {'content-type': rand() > 0.2 ? 'application/json' : 'text/plain'}})
        statuses.push(res.status)
        expect(res.status, `${method} ${path} ${JSON.stringify(body.toString())} → ${res.text}`).toBeGreaterThanOrEqual(400)
        expect(res.status).toBeLessThan(500)
        expect(res.body?.error?.code, res.text).toEqual(expect.any(String))
      }
      expect(statuses.length).toBe(200)
      expect((await gw.api('/health')).status).toBe(200)
      expect((await gw.api('/api/v1/whoami')).status).toBe(200)
    })
  })

  it('a failing handler is a 500 without stack or internals, and the server keeps serving', async () => {
    const res = await gw.api('/api/v1/test-boom')
    expect(res.status).toBe(500)
    expect(res.body).toEqual({error: {code: 'INTERNAL', message: 'internal server error', hint: 'the gateway log has the details'}})
    expect(res.text).not.toContain('kaboom')
    expect(res.text).not.toMatch(/Error|\.ts:\d|node_modules/)
    expect(logged.some((l) => l.includes('kaboom'))).toBe(true)
    expect((await gw.api('/health')).status).toBe(200)
  })
})

/**
 * Text that PostgreSQL cannot store (U+0000, lone surrogates: valid JSON all the same) is
 * refused with 400 naming the field wherever it enters — JSON bodies, forms, the URL, headers —
 * never a 500 and never a turn lost after its `done`. Also: HEAD on a session's events answers;
 * a provider key that cannot go in an HTTP header is refused at input.
 */
import {connect} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {driverNames, rawRequest, startTestGateway, type TestGateway} from '../../../support/gateway.js'

/** A raw HTTP/1.1 exchange (to send bytes no client library would). */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text))
    let out = ''
    socket.on('data', (d) => (out += d.toString('utf8')))
    socket.on('end', () => resolve(out))
    socket.on('error', reject)
  })
}

describe.each(driverNames())('input hygiene (%s)', (driver) => {
  let gw: TestGateway
  beforeAll(async () => {
    gw = await startTestGateway({driver})
  })
  afterAll(() => gw?.close())

  const NUL = 'a\u0000b'
  const LONE = 'x\ud800y'

  it.each([
    ['POST', '/api/v1/tokens', {name: NUL, scopes: ['chat']}, 'name', 'U+0000'],
    ['POST', '/api/v1/tokens', {name: LONE, scopes: ['chat']}, 'name', 'lone surrogate'],
    ['PUT', '/api/v1/agents/hygiene', {name: 'ok', description: NUL}, 'description', 'U+0000'],
    ['PUT', '/api/v1/agents/hygiene', {name: 'ok', files: {identity: LONE}}, 'files.identity', 'lone surrogate'],
    ['PUT', '/api/v1/agents/hygiene', {name: 'ok', ['k\u0000']: 1}, 'k', 'key'],
    ['POST', '/api/v1/apply/plan', {project: 'p', agents: [], secrets: {A: NUL}}, 'secrets.A', 'U+0000'],
  ])('%s %s with a bad string → 400 naming the field (case %#)', async (method, path, body, field, what) => {
    const r = await gw.api(path, {method, body})
    expect(r.status, r.text).toBe(400)
    expect(r.body.error.code).toBe('INVALID_REQUEST')
    expect(r.body.error.message).toContain(field)
    expect(r.body.error.message).toContain(what)
  })

  it('POST /v1/chat/completions: 400 in the OpenAI shape, param naming the field', async () => {
    const r = await gw.api('/v1/chat/completions', {method: 'POST', body: {model: 'default', messages: [{role: 'user', content: NUL}]}})
    expect(r.status, r.text).toBe(400)
    expect(r.body.error).toMatchObject({type: 'invalid_request_error', param: 'messages.0.content'})
  })

  it('a chat message with U+0000 is refused before any turn starts: nothing is half-stored', async () => {
    const created = await gw.api('/api/v1/sessions', {method: 'POST', body: {thread: 'hygiene'}})
    expect(created.status, created.text).toBeLessThan(300)
    const key = created.body.sessionKey as string
    const r = await gw.api(`/api/v1/sessions/${key}/messages`, {method: 'POST', body: {content: `hello ${NUL}`}})
    expect(r.status, r.text).toBe(400)
    expect(r.body.error.message).toContain('content')
    const session = await gw.api(`/api/v1/sessions/${key}`)
    expect(session.status).toBe(200)
    expect(JSON.stringify(session.body)).not.toContain('hello')
  })

  it('a form field with %00 → 400 naming the field (OAuth endpoints)', async () => {
    const r = await rawRequest(`${gw.url}/oauth/token`, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded'},
      body: 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=a%00b',
    })
    expect(r.status, r.text).toBe(400)
    expect(r.body).toMatchObject({error: 'invalid_request'})
    expect(r.body.error_description).toContain('device_code')
  })

  it('the URL path or a query parameter decoding to U+0000 → 400 naming where', async () => {
    const inPath = await gw.api('/api/v1/agents/a%00b')
    expect(inPath.status).toBe(400)
    expect(inPath.body.error.message).toContain('URL path')
    const inQuery = await gw.api('/api/v1/sessions/abc/events?after=1%00')
    expect(inQuery.status).toBe(400)
    expect(inQuery.body.error.message).toContain('query parameter "after"')
  })

  it('a header holding U+0000 → 400 JSON naming the header', async () => {
    const out = await rawExchange(gw.gateway.port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${gw.gateway.port}\r\nX-Trace: a\u0000b\r\nConnection: close\r\n\r\n`)
    expect(out).toMatch(/^HTTP\/1\.1 400/)
    expect(out).toContain('"INVALID_REQUEST"')
    expect(out).toContain('x-trace')
  })

  it('HEAD /api/v1/sessions/:key/events answers like GET, without a body (it used to hang)', async () => {
    const created = await gw.api('/api/v1/sessions', {method: 'POST', body: {thread: 'head'}})
    const key = created.body.sessionKey as string
    const head = await rawRequest(`${gw.url}/api/v1/sessions/${key}/events`, {method: 'HEAD', headers: {authorization: `Bearer ${gw.adminToken}`, accept: 'text/event-stream'}})
    expect(head.status).toBe(200)
    expect(head.headers['content-type']).toContain('text/event-stream')
    expect(head.text).toBe('')
    const missing = await rawRequest(`${gw.url}/api/v1/sessions/nope/events`, {method: 'HEAD', headers: {authorization: `Bearer ${gw.adminToken}`}})
    const get = await gw.api('/api/v1/sessions/nope/events')
    expect(missing.status).toBe(get.status)
  })

  it('POST /api/v1/oauth/keys refuses a key that cannot go in an HTTP header, naming the field', async () => {
    for (const key of ['sk-é😀', 'sk-a b', 'sk-\u0001x']) {
      const r = await gw.api('/api/v1/oauth/keys', {method: 'POST', body: {agentId: 'default', providerId: 'openai', key}})
      expect(r.status, r.text).toBe(400)
      expect(r.body.error.message).toMatch(/key: .*HTTP header/)
    }
  })

  it('apply refuses a provider key (a secret a provider references) that cannot go in an HTTP header', async () => {
    const agent = {
      id: 'hdr',
      name: 'hdr',
      files: {skills: []},
      providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'OPENAI_API_KEY'}}],
      mcp: {},
      network: {allowed: [], denied: []},
      tools: {preApproved: [], allowed: [], denied: []},
    }
    const r = await gw.api('/api/v1/apply/plan', {method: 'POST', body: {project: 'hdr', agents: [agent], secrets: {OPENAI_API_KEY: 'sk-é😀'}}})
    expect(r.status, r.text).toBe(400)
    expect(r.text).toContain('OPENAI_API_KEY')
    expect(r.text).toContain('HTTP header')
    const ok = await gw.api('/api/v1/apply/plan', {method: 'POST', body: {project: 'hdr', agents: [agent], secrets: {OPENAI_API_KEY: 'sk-fine'}}})
    expect(ok.status, ok.text).toBe(200)
  })
})

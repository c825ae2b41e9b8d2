/**
 * Caps per caller: at most 32 open event streams per token (429 TOO_MANY_STREAMS with
 * Retry-After beyond), another token unaffected, a closed stream frees its place, and the
 * gateway keeps answering /health.
 */
import {request, type ClientRequest, type IncomingMessage} from 'node:http'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {MAX_STREAMS_PER_TOKEN} from '../../../../src/lib/gateway/http/caps.js'
import {driverNames, startTestGateway, type TestGateway} from '../../../support/gateway.js'

interface OpenStream {
  status: number
  headers: IncomingMessage['headers']
  req: ClientRequest
  res: IncomingMessage
}

function openStream(url: string, token: string): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, {headers: {authorization: `Bearer ${token}`, accept: 'text/event-stream'}, agent: false}, (res) => {
      res.on('error', () => {})
      resolve({status: res.statusCode ?? 0, headers: res.headers, req, res})
    })
    req.on('error', reject)
    req.end()
  })
}

describe.each(driverNames())('stream caps (%s)', (driver) => {
  let gw: TestGateway
  beforeAll(async () => {
    gw = await startTestGateway({driver})
  })
  afterAll(() => gw?.close())

  it('300 streams on one token: 32 accepted, the rest 429 with Retry-After; /health still answers', async () => {
    const session = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'default', thread: 'caps'}})
    expect(session.status, session.text).toBeLessThan(300)
    const url = `${gw.url}/api/v1/sessions/${encodeURIComponent(session.body.sessionKey)}/events`
    const streams = await Promise.all(Array.from({length: 300}, () => openStream(url, gw.adminToken)))
    try {
      const accepted = streams.filter((s) => s.status === 200)
      const refused = streams.filter((s) => s.status === 429)
      expect(accepted).toHaveLength(MAX_STREAMS_PER_TOKEN)
      expect(refused).toHaveLength(300 - MAX_STREAMS_PER_TOKEN)
      expect(Number(refused[0]!.headers['retry-after'])).toBeGreaterThan(0)
      expect((await gw.api('/health', {token: null})).status).toBe(200)

      // Another token of the same user has its own count.
      const minted = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'second', scopes: ['chat']}})
      const other = await openStream(url, minted.body.token)
      expect(other.status).toBe(200)
      other.req.destroy()

      // Closing one frees its place.
      accepted[0]!.req.destroy()
      let next: OpenStream | undefined
      for (let i = 0; i < 50; i++) {
        next = await openStream(url, gw.adminToken)
        if (next.status === 200) break
        next.req.destroy()
        await new Promise((r) => setTimeout(r, 20))
      }
      expect(next!.status).toBe(200)
      next!.req.destroy()
    } finally {
      for (const s of streams) s.req.destroy()
    }
  })
})

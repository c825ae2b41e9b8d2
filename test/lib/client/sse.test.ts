import type {ServerResponse} from 'node:http'

import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {exitCodeOf} from '../../../src/lib/cli/exit.js'
import {LobuError} from '../../../src/lib/core/errors.js'
import {ApiClient, type SseEvent} from '../../../src/lib/client/index.js'
import {type TestServer, json, startServer} from './helpers.js'

/** Lets a test release the rest of a stream once the client has seen the first part. */
let releaseRest: () => void = () => {}
let closed: Promise<void>

function sseHead(res: ServerResponse): void {
  res.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache'})
  res.flushHeaders()
}

let server: TestServer

beforeAll(async () => {
  server = await startServer(async (req, res) => {
    let onClose: () => void = () => {}
    closed = new Promise((resolve) => (onClose = resolve))
    res.on('close', onClose)
    const path = new URL(req.url, 'http://x').pathname
    if (path === '/split') {
      sseHead(res)
      const text = Buffer.from('id: 2\nevent: delta\ndata: {"text":"héllo"}\n\n', 'utf8')
      // one full event plus the first half of the next (cut inside the two-byte "é")
      const cut = text.indexOf(Buffer.from('é')) + 1
      res.write(Buffer.concat([Buffer.from(': ping\n\nid: 1\nevent: turn\ndata: {"messageId":"m1"}\n\n'), text.subarray(0, cut)]))
      await new Promise<void>((resolve) => (releaseRest = resolve))
      res.write(text.subarray(cut))
      res.end('data: line one\ndata: line two\n\nid: 3\nevent: done\ndata: {}\n\n')
      return
    }
    if (path === '/resume') {
      sseHead(res)
      res.end(`id: ${Number(req.headers['last-event-id']) + 1}\nevent: delta\ndata: ${req.body}\n\n`)
      return
    }
    if (path === '/cut') {
      sseHead(res)
      res.write('id: 1\nevent: delta\ndata: {"text":"a"}\n\n')
      await new Promise<void>((resolve) => (releaseRest = resolve))
      res.destroy()
      return
    }
    if (path === '/forever') {
      sseHead(res)
      res.write('id: 1\nevent: turn\ndata: {}\n\n')
      return // never ends: the client must stop it
    }
    if (path === '/json') return json(res, 200, {not: 'a stream'})
    json(res, 403, {error: {code: 'FORBIDDEN', message: 'missing scope chat'}})
  })
})

afterAll(async () => {
  await server.close()
})

beforeEach(() => {
  server.seen.length = 0
})

const client = () => new ApiClient({baseUrl: server.url, token: 'lobu_pat_x'})

async function firstError(iterable: AsyncIterable<SseEvent>): Promise<unknown> {
  try {
    for await (const _ of iterable) {
      // drain
    }
  } catch (error) {
    return error
  }
  throw new Error('expected the stream to fail')
}

describe('ApiClient.stream', () => {
  it('parses events with ids, across chunk boundaries (also inside a UTF-8 character)', async () => {
    const events: SseEvent[] = []
    const comments: string[] = []
    for await (const event of client().stream('/split', {onComment: (c) => comments.push(c)})) {
      events.push(event)
      if (events.length === 1) releaseRest()
    }
    expect(events).toEqual([
      {id: '1', event: 'turn', data: '{"messageId":"m1"}'},
      {id: '2', event: 'delta', data: '{"text":"héllo"}'},
      {event: 'message', data: 'line one\nline two'},
      {id: '3', event: 'done', data: '{}'},
    ])
    expect(comments).toEqual(['ping'])
    expect(server.seen[0]?.headers.accept).toBe('text/event-stream')
    expect(server.seen[0]?.headers.authorization).toBe('Bearer lobu_pat_x')
  })

  it('POSTs a JSON body and sends Last-Event-ID to resume', async () => {
    const events: SseEvent[] = []
    for await (const event of client().stream('/resume', {method: 'POST', body: {content: 'hi'}, lastEventId: '41'})) {
      events.push(event)
    }
    expect(server.seen[0]?.method).toBe('POST')
    expect(server.seen[0]?.headers['last-event-id']).toBe('41')
    expect(events).toEqual([{id: '42', event: 'delta', data: '{"content":"hi"}'}])
  })

  it('maps an error answer before the stream starts (403 → exit 3)', async () => {
    const error = (await firstError(client().stream('/forbidden'))) as LobuError
    expect(error).toBeInstanceOf(LobuError)
    expect(exitCodeOf(error)).toBe(3)
    expect(error.message).toBe('missing scope chat')
  })

  it('refuses an answer that is not an event stream', async () => {
    const error = (await firstError(client().stream('/json'))) as LobuError
    expect(exitCodeOf(error)).toBe(1)
    expect(error.code).toBe('BAD_RESPONSE')
  })

  it('reports a stream cut mid-way as STREAM_INTERRUPTED after the events received', async () => {
    const events: SseEvent[] = []
    let caught: unknown
    try {
      for await (const event of client().stream('/cut')) {
        events.push(event)
        releaseRest()
      }
    } catch (error) {
      caught = error
    }
    expect(events).toEqual([{id: '1', event: 'delta', data: '{"text":"a"}'}])
    expect(caught).toBeInstanceOf(LobuError)
    expect((caught as LobuError).code).toBe('STREAM_INTERRUPTED')
  })

  it('closes the connection when the consumer stops early', async () => {
    for await (const event of client().stream('/forever')) {
      expect(event.event).toBe('turn')
      break
    }
    await closed // the server saw the connection close
  })

  it('rethrows an abort as an AbortError', async () => {
    const controller = new AbortController()
    const error = (await firstError(
      (async function* () {
        for await (const event of client().stream('/forever', {signal: controller.signal})) {
          yield event
          controller.abort()
        }
      })(),
    )) as Error
    expect(error).not.toBeInstanceOf(LobuError)
    expect(error.name).toBe('AbortError')
    await closed
  })
})

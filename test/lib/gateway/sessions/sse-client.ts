/**
 * A small SSE client for gateway tests over node:http (no connection reuse): open a stream,
 * read its events one by one or until it ends, or cut it.
 */
import {request, type IncomingHttpHeaders, type ClientRequest} from 'node:http'

import {createParser} from 'eventsource-parser'

export interface TestEvent {
  id?: string
  event: string
  data: any
  raw: string
}

export interface OpenStream {
  status: number
  headers: IncomingHttpHeaders
  /** The body text when the answer is not a stream (errors). */
  text(): Promise<string>
  /** The next event, or undefined once the stream has ended. */
  next(): Promise<TestEvent | undefined>
  /** Every remaining event until the server ends the stream. */
  all(): Promise<TestEvent[]>
  /** Read until an event matches (inclusive). */
  until(pred: (e: TestEvent) => boolean): Promise<TestEvent[]>
  /** Raw text received so far. */
  readonly rawText: string
  /** Cut the connection from the client side. */
  destroy(): void
}

export function openStream(
  url: string,
  opts: {method?: string; headers?: Record<string, string>; body?: unknown; token?: string} = {},
): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {accept: 'text/event-stream', ...opts.headers}
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    let payload: string | undefined
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body)
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(payload))
    }
    const req: ClientRequest = request(url, {method: opts.method ?? (payload ? 'POST' : 'GET'), headers, agent: false}, (res) => {
      const queue: TestEvent[] = []
      const waiters: Array<() => void> = []
      let ended = false
      let raw = ''
      const wake = () => {
        for (const w of waiters.splice(0)) w()
      }
      const parser = createParser({
        onEvent: (m) => {
          let data: unknown = m.data
          try {
            data = JSON.parse(m.data)
          } catch {
            // leave as text
          }
          queue.push({id: m.id, event: m.event ?? 'message', data, raw: m.data})
          wake()
        },
      })
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        raw += chunk
        parser.feed(chunk)
      })
      const end = () => {
        ended = true
        wake()
      }
      res.on('end', end)
      res.on('close', end)
      res.on('error', end)

      const next = async (): Promise<TestEvent | undefined> => {
        for (;;) {
          if (queue.length > 0) return queue.shift()
          if (ended) return undefined
          await new Promise<void>((r) => waiters.push(r))
        }
      }
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        async text() {
          while (!ended) await new Promise<void>((r) => waiters.push(r))
          return raw
        },
        next,
        async all() {
          const out: TestEvent[] = []
          for (let e = await next(); e; e = await next()) out.push(e)
          return out
        },
        async until(pred) {
          const out: TestEvent[] = []
          for (let e = await next(); e; e = await next()) {
            out.push(e)
            if (pred(e)) break
          }
          return out
        },
        get rawText() {
          return raw
        },
        destroy() {
          req.destroy()
          res.destroy()
        },
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

export const isTerminal = (e: TestEvent) => e.event === 'done' || e.event === 'error'

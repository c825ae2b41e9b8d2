/**
 * Server-sent event responses: `id:`, `event:` and one-line JSON `data:` per event, a `: ping`
 * comment every 15 s, and the headers proxies need to pass a stream through unbuffered.
 */
import type {ServerResponse} from 'node:http'

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
}

export const PING_INTERVAL_MS = 15_000

export interface SseFrame {
  id?: number | string
  event: string
  /** Serialised as one line of JSON. */
  data: unknown
}

/** One event as text. JSON.stringify never emits a raw newline, so `data:` stays one line. */
export function formatEvent(frame: SseFrame): string {
  const id = frame.id === undefined ? '' : `id: ${frame.id}\n`
  const data = typeof frame.data === 'string' ? frame.data : JSON.stringify(frame.data)
  return `${id}event: ${frame.event}\ndata: ${data}\n\n`
}

export interface SseSink {
  /** Write one event; false once the stream is closed. */
  send(frame: SseFrame): boolean
  /** Write raw text (e.g. an OpenAI `data:` line). */
  write(text: string): boolean
  comment(text: string): void
  /** End the response (idempotent). */
  close(): void
  readonly closed: boolean
}

export interface SseStreamOptions {
  pingMs?: number
  /** Called once when the stream ends for any reason: the client went away, or close(). */
  onClose?: (reason: 'client' | 'server') => void
  headers?: Record<string, string>
  /**
   * The request's Node response (see nodeResponseOf), when the app runs on a Node HTTP server:
   * the events are then written to it directly instead of through a web ReadableStream.
   */
  outgoing?: ServerResponse
}

/** The sink's buffering, shared by both ways of sending (see coalescer). */
interface Coalescer {
  write(text: string): boolean
  /** Send what is buffered now. */
  flush(): void
  /** Hand over what is buffered instead of sending it (it goes out with the end of the response). */
  take(): string
  /** Forget what is buffered (the client is gone). */
  drop(): void
}

/**
 * Writes are coalesced: everything written in one turn of the event loop (say the deltas of one
 * chunk from the provider) leaves as ONE chunk, at the end of that turn (setImmediate), instead
 * of one socket write per event.
 */
function coalescer(emit: (text: string) => void, isOpen: () => boolean): Coalescer {
  let buffer = ''
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (buffer === '') return
    const text = buffer
    buffer = ''
    if (isOpen()) emit(text)
  }
  return {
    write(text) {
      if (!isOpen()) return false
      buffer += text
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
      return true
    },
    flush,
    take: () => {
      const text = buffer
      buffer = ''
      return text
    },
    drop: () => {
      buffer = ''
    },
  }
}

/**
 * A streaming response. `start` gets the sink once the response is created; the client going
 * away calls onClose('client'); close() sends what is buffered, then ends the response.
 *
 * With `outgoing` the events go straight to the Node response (one socket write per turn of
 * the event loop, no stream machinery in between) and the value returned only tells the Node
 * adapter that the response is already being sent. Without it (the app called in memory, as
 * tests do) they go through a web ReadableStream.
 */
export function sseResponse(start: (sink: SseSink) => void, options: SseStreamOptions = {}): Response {
  return options.outgoing ? sseOnNode(options.outgoing, start, options) : sseOnWebStream(start, options)
}

function makeSink(out: Coalescer, finish: (reason: 'client' | 'server') => void, isClosed: () => boolean): SseSink {
  return {
    send: (frame) => out.write(formatEvent(frame)),
    write: (text) => out.write(text),
    comment: (text) => void out.write(`: ${text}\n\n`),
    close: () => finish('server'),
    get closed() {
      return isClosed()
    },
  }
}

function sseOnNode(res: ServerResponse, start: (sink: SseSink) => void, options: SseStreamOptions): Response {
  let closed = false
  let ping: NodeJS.Timeout | undefined
  const out = coalescer(
    (text) => {
      if (res.destroyed) finish('client')
      else res.write(text)
    },
    () => !closed,
  )
  const finish = (reason: 'client' | 'server') => {
    if (closed) return
    // The last events and the end of the chunked body leave in one socket write.
    const rest = reason === 'server' ? out.take() : (out.drop(), '')
    closed = true
    clearInterval(ping)
    res.off('close', onClientGone)
    if (reason === 'server') {
      if (rest === '') res.end()
      else res.end(rest)
    }
    options.onClose?.(reason)
  }
  const onClientGone = () => finish('client')
  // Headers wait for the first write (the `: ok` comment below): one packet carries both. The
  // app's own headers (set by its middleware on the Response) do not reach this path: nosniff is
  // repeated here.
  res.writeHead(200, {...SSE_HEADERS, 'x-content-type-options': 'nosniff', ...options.headers})
  res.on('close', onClientGone)
  // A write racing the client's disconnect reports an error here; 'close' follows and ends the stream.
  res.on('error', () => {})
  const sink = makeSink(out, finish, () => closed)
  // A first comment tells the client the stream is open.
  out.write(': ok\n\n')
  ping = setInterval(() => sink.comment('ping'), options.pingMs ?? PING_INTERVAL_MS)
  ping.unref?.()
  start(sink)
  // The client left while the request was being handled: 'close' will not come again.
  if (res.destroyed) finish('client')
  return new Response(null, {headers: {[ALREADY_SENT_HEADER]: 'true'}})
}

/** The header that tells @hono/node-server the handler wrote the response itself. */
const ALREADY_SENT_HEADER = 'x-hono-already-sent'

function sseOnWebStream(start: (sink: SseSink) => void, options: SseStreamOptions): Response {
  const encoder = new TextEncoder()
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  let closed = false
  let ping: NodeJS.Timeout | undefined

  const out = coalescer(
    (text) => {
      try {
        controller?.enqueue(encoder.encode(text))
      } catch {
        finish('client')
      }
    },
    () => !closed && controller !== undefined,
  )

  const finish = (reason: 'client' | 'server') => {
    if (closed) return
    if (reason === 'server') out.flush()
    else out.drop()
    closed = true
    clearInterval(ping)
    if (reason === 'server') {
      try {
        controller?.close()
      } catch {
        // already closed
      }
    }
    options.onClose?.(reason)
  }
  const sink = makeSink(out, finish, () => closed)

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
      // A first comment tells the client the stream is open. It is buffered like the rest: the
      // server sends the headers at once when the body has nothing ready yet.
      out.write(': ok\n\n')
      ping = setInterval(() => sink.comment('ping'), options.pingMs ?? PING_INTERVAL_MS)
      ping.unref?.()
      start(sink)
    },
    cancel() {
      finish('client')
    },
  })
  return new Response(body, {status: 200, headers: {...SSE_HEADERS, ...options.headers}})
}

/**
 * Server-sent event responses: `id:`, `event:` and one-line JSON `data:` per event, a `: ping`
 * comment every 15 s, and the headers proxies need to pass a stream through unbuffered.
 */
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
}

/**
 * A streaming Response. `start` gets the sink once the response is created; the client going
 * away (the ReadableStream is cancelled) calls onClose('client').
 *
 * Writes are coalesced: everything written in one turn of the event loop (say the deltas of one
 * chunk from the provider) leaves as ONE chunk, at the end of that turn (setImmediate), instead
 * of one socket write per event. close() sends what is buffered first.
 */
export function sseResponse(start: (sink: SseSink) => void, options: SseStreamOptions = {}): Response {
  const encoder = new TextEncoder()
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  let closed = false
  let ping: NodeJS.Timeout | undefined
  let buffer = ''
  let scheduled = false

  const flush = () => {
    scheduled = false
    if (buffer === '' || !controller) return
    const text = buffer
    buffer = ''
    try {
      controller.enqueue(encoder.encode(text))
    } catch {
      finish('client')
    }
  }

  const finish = (reason: 'client' | 'server') => {
    if (closed) return
    if (reason === 'server') flush()
    closed = true
    buffer = ''
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

  const write = (text: string): boolean => {
    if (closed || !controller) return false
    buffer += text
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
    return true
  }

  const sink: SseSink = {
    send: (frame) => write(formatEvent(frame)),
    write,
    comment: (text) => void write(`: ${text}\n\n`),
    close: () => finish('server'),
    get closed() {
      return closed
    },
  }

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
      // A first comment tells the client the stream is open. It is buffered like the rest: the
      // server sends the headers at once when the body has nothing ready yet.
      write(': ok\n\n')
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

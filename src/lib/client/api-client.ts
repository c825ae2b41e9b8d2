import type {IncomingMessage, RequestOptions as HttpRequestOptions} from 'node:http'

import {OperationError} from '../core/errors.js'
import {ClientTarget, httpError, unreachableError} from './errors.js'

export interface ApiClientOptions {
  /** Base URL of the gateway (may carry a path prefix); no trailing slash needed. */
  baseUrl: string
  token?: string
  /**
   * The origin the token was issued for (default: baseUrl's origin). The Authorization header is
   * attached only to requests whose URL has exactly this origin (docs/SECURITY.md S2).
   */
  tokenOrigin?: string
  /** Where the token came from, for hints when it is rejected. */
  tokenSource?: 'env' | 'stored'
  /** Name of the context, for hints (`lobu run` for local, `lobu oauth login -c NAME` otherwise). */
  contextName?: string
  userAgent?: string
}

export interface RequestOptions {
  signal?: AbortSignal
  headers?: Record<string, string>
}

export interface StreamOptions extends RequestOptions {
  method?: 'GET' | 'POST'
  body?: unknown
  /** Sent as `Last-Event-ID` to resume a stream after the last event seen. */
  lastEventId?: string
  /** Called for comment lines (`: ping`), e.g. to reset an idle timer. */
  onComment?: (comment: string) => void
}

/** One server-sent event. `event` defaults to "message" as in the SSE spec. */
export interface SseEvent {
  id?: string
  event: string
  data: string
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH'

function isAbort(error: unknown, signal?: AbortSignal): boolean {
  return Boolean(signal?.aborted) || (error as {name?: string} | null)?.name === 'AbortError'
}

/** What a caller sees for an aborted request: always an error named AbortError. */
function abortError(error: unknown): Error {
  if ((error as {name?: string} | null)?.name === 'AbortError') return error as Error
  // node:http reports an abort after the answer started as a reset ("aborted"): name it for what it is.
  return Object.assign(new Error('This operation was aborted', {cause: error}), {name: 'AbortError', code: 'ABORT_ERR'})
}

/**
 * Like undici's default headers/body timeouts: a request that gets no byte for this long fails
 * ("did not answer in time") instead of hanging. Streams disable it once their answer starts: the
 * caller owns their idle timeout.
 */
const SOCKET_IDLE_TIMEOUT_MS = 300_000

/** One HTTP answer: the status, the headers and the body as a stream. */
interface RawResponse {
  status: number
  headers: IncomingMessage['headers']
  body: IncomingMessage
}

/**
 * JSON + SSE client of the gateway API, on node:http(s): no HTTP library to load (undici from npm
 * costs more than 100 ms of start-up), redirects are never followed, keep-alive sockets of the
 * global agent do not hold the process open. Commands still import it lazily (inside run()).
 */
export class ApiClient {
  readonly baseUrl: string
  readonly origin: string
  readonly tokenOrigin?: string
  readonly tokenSource?: 'env' | 'stored'
  readonly contextName?: string
  readonly #token?: string
  readonly #userAgent: string

  constructor(options: ApiClientOptions) {
    const base = new URL(options.baseUrl)
    this.baseUrl = base.origin + base.pathname.replace(/\/+$/, '')
    this.origin = base.origin
    if (options.token) {
      this.#token = options.token
      this.tokenOrigin = new URL(options.tokenOrigin ?? base.origin).origin
      this.tokenSource = options.tokenSource
    }
    this.contextName = options.contextName
    this.#userAgent = options.userAgent ?? 'lobu-cli'
  }

  /** True when a token is bound to this client (it is still only sent to its own origin). */
  get hasToken(): boolean {
    return this.#token !== undefined
  }

  get<T = unknown>(path: string, body?: undefined, options?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, body, options)
  }

  post<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, body, options)
  }

  put<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, body, options)
  }

  delete<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, body, options)
  }

  /** Send a JSON request; resolves to the parsed JSON body (undefined for an empty body / 204). */
  async request<T = unknown>(method: Method, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const res = await this.#send(method, path, body, {...options, headers: {accept: 'application/json', ...options.headers}})
    const text = await this.#readText(res, options.signal)
    if (res.status < 200 || res.status >= 300) throw httpError(res.status, text, this.#target())
    if (res.status === 204 || text.trim() === '') return undefined as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw new OperationError(`unexpected answer from the gateway at ${this.baseUrl} (not JSON)`, {
        code: 'BAD_RESPONSE',
        hint: 'Is the context URL a Lobu gateway? Check it with `lobu context list`',
      })
    }
  }

  /**
   * Open a server-sent event stream and yield its events as they arrive. A non-2xx answer throws
   * the mapped error on the first iteration; an abort rethrows the AbortError; a stream that
   * breaks mid-way throws OperationError code STREAM_INTERRUPTED (resume with lastEventId).
   */
  async *stream(path: string, options: StreamOptions = {}): AsyncGenerator<SseEvent, void, undefined> {
    const headers: Record<string, string> = {accept: 'text/event-stream', 'cache-control': 'no-cache', ...options.headers}
    if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId
    // The parser module loads while the request is on its way.
    const parserModule = import('eventsource-parser')
    parserModule.catch(() => {}) // awaited below, once the answer is known to be a stream
    const res = await this.#send(options.method ?? 'GET', path, options.body, {signal: options.signal, headers}, true)
    if (res.status < 200 || res.status >= 300) {
      throw httpError(res.status, await this.#readText(res, options.signal), this.#target())
    }
    const contentType = String(res.headers['content-type'] ?? '')
    if (!contentType.startsWith('text/event-stream')) {
      await this.#readText(res, options.signal)
      throw new OperationError(`expected an event stream from ${this.baseUrl}, got ${contentType || 'no content type'}`, {
        code: 'BAD_RESPONSE',
      })
    }

    const {createParser} = await parserModule
    const queue: SseEvent[] = []
    const parser = createParser({
      onEvent: (message) => {
        const event: SseEvent = {event: message.event ?? 'message', data: message.data}
        if (message.id !== undefined) event.id = message.id
        queue.push(event)
      },
      onComment: options.onComment,
    })
    const decoder = new TextDecoder()
    try {
      try {
        for await (const chunk of res.body) {
          parser.feed(decoder.decode(chunk as Uint8Array, {stream: true}))
          while (queue.length > 0) yield queue.shift()!
        }
      } catch (error) {
        if (isAbort(error, options.signal)) throw abortError(error)
        throw new OperationError(`the event stream from ${this.baseUrl} was interrupted`, {code: 'STREAM_INTERRUPTED', cause: error})
      }
      // A body that ends short of its framing is reported like a cut connection.
      if (!res.body.complete) {
        throw new OperationError(`the event stream from ${this.baseUrl} was interrupted`, {code: 'STREAM_INTERRUPTED'})
      }
      parser.feed(decoder.decode())
      while (queue.length > 0) yield queue.shift()!
    } finally {
      // The consumer may stop early (break / return): close the connection.
      if (!res.body.complete && !res.body.destroyed) res.body.destroy()
    }
  }

  #target(): ClientTarget {
    return {baseUrl: this.baseUrl, contextName: this.contextName, tokenSource: this.tokenSource}
  }

  #url(path: string): URL {
    if (/^https?:\/\//i.test(path)) return new URL(path)
    if (!path.startsWith('/')) throw new TypeError(`ApiClient: path must start with "/" or be an absolute URL: ${path}`)
    return new URL(this.baseUrl + path)
  }

  async #send(method: Method, path: string, body: unknown, options: RequestOptions, streaming = false): Promise<RawResponse> {
    if (method === 'GET' && body !== undefined) throw new TypeError('ApiClient: a GET request cannot have a body')
    const url = this.#url(path)
    const headers: Record<string, string> = {'user-agent': this.#userAgent}
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value
    // docs/SECURITY.md S2: the token goes only to the origin it was issued for.
    if (this.#token !== undefined && url.origin === this.tokenOrigin) headers.authorization = `Bearer ${this.#token}`
    let payload: string | undefined
    if (body !== undefined) {
      payload = JSON.stringify(body)
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(payload))
    }
    const {request} = url.protocol === 'https:' ? await import('node:https') : await import('node:http')
    const {signal} = options
    return new Promise<RawResponse>((resolve, reject) => {
      const fail = (error: unknown) => reject(isAbort(error, signal) ? abortError(error) : unreachableError(this.#target(), error))
      if (signal?.aborted) return fail(signal.reason)
      const init: HttpRequestOptions = {method, headers, signal}
      const req = request(url, init, (res) => {
        // A stream may stay quiet between events: the caller owns the idle timeout.
        if (streaming) req.setTimeout(0)
        resolve({status: res.statusCode ?? 0, headers: res.headers, body: res})
      })
      req.setTimeout(SOCKET_IDLE_TIMEOUT_MS, () => {
        req.destroy(Object.assign(new Error(`no answer within ${SOCKET_IDLE_TIMEOUT_MS / 1000} s`), {code: 'ETIMEDOUT'}))
      })
      req.on('error', fail)
      req.end(payload)
    })
  }

  async #readText(res: RawResponse, signal?: AbortSignal): Promise<string> {
    const chunks: Buffer[] = []
    try {
      for await (const chunk of res.body) chunks.push(chunk as Buffer)
    } catch (error) {
      if (isAbort(error, signal)) throw abortError(error)
      throw unreachableError(this.#target(), error)
    }
    if (!res.body.complete) throw unreachableError(this.#target(), new Error('the connection closed before the answer was complete'))
    return Buffer.concat(chunks).toString('utf8')
  }
}

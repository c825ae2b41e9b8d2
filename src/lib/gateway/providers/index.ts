/**
 * The provider layer: `streamTurn` sends one turn to a provider in its wire dialect and yields
 * `delta` / `tool_call` events and exactly one final `done`, or throws a ProviderError:
 *
 * - 401/403 (and Gemini's 400 API_KEY_INVALID) → PROVIDER_AUTH, never retried;
 * - 429 / 5xx → retried at most MAX_RETRIES times (Retry-After honoured, up to
 *   MAX_RETRY_WAIT_MS), only before the first token; then PROVIDER_ERROR with the status and
 *   the provider's message;
 * - a stream that ends without its terminal marker, or a provider error event mid-stream
 *   → PROVIDER_ERROR;
 * - nothing received for `timeoutMs` → TIMEOUT; `signal` aborted → ABORTED (the HTTP request
 *   is cancelled at once).
 *
 * The API key never appears in an error message.
 */
import {StringDecoder} from 'node:string_decoder'

import {createParser, type EventSourceMessage} from 'eventsource-parser'
import type {request} from 'undici'
import {baseUrlEnvName, catalogEntry, resolveBaseUrl, type Dialect} from '../../contract/providers.js'
import type {ProviderSpec} from '../store/types.js'
import {anthropicDialect} from './anthropic.js'
import {egressRefusal} from '../egress/index.js'
import {badChunk, farSideDetail, oneLine, redact, statusError, unexpectedEnd} from './errors.js'
import {geminiDialect} from './gemini.js'
import {MAX_RETRY_WAIT_MS, Watchdog, backoffMs, loadUndici, parseRetryAfter, providerAgent, sleep} from './http.js'
import {openaiDialect} from './openai.js'
import {ProviderError, type DialectAdapter, type HttpRequestSpec, type ProviderEvent, type ProviderTarget, type TurnInput} from './types.js'

export * from './types.js'
export {closeProviderAgent, loadUndici, parseRetryAfter, MAX_RETRY_WAIT_MS} from './http.js'
export {redact} from './errors.js'

/** Idle timeout when the turn does not set one. */
export const DEFAULT_TIMEOUT_MS = 120_000
/** Retries after the first attempt for 429 / 5xx. */
export const MAX_RETRIES = 2
/** An SSE event larger than this is refused (protects memory against a broken server). */
const MAX_EVENT_CHARS = 16 * 1024 * 1024
/** Error bodies are read up to this size. */
const MAX_ERROR_BODY_BYTES = 64 * 1024

const DIALECTS: Record<Dialect, DialectAdapter> = {
  openai: openaiDialect,
  anthropic: anthropicDialect,
  gemini: geminiDialect,
}

export function dialectAdapter(dialect: Dialect): DialectAdapter {
  return DIALECTS[dialect] ?? openaiDialect
}

export async function* streamTurn(input: TurnInput): AsyncGenerator<ProviderEvent, void, undefined> {
  for await (const events of streamTurnBatches(input)) yield* events
}

/**
 * streamTurn with the events grouped as they were decoded, one batch per chunk read from the
 * provider: the same events in the same order, with one step of the iteration per chunk
 * instead of one per event (a reply whose tokens arrive together costs a few steps).
 */
export function streamTurnBatches(input: TurnInput): AsyncGenerator<ProviderEvent[], void, undefined> {
  return runTurn(input)
}

/**
 * The target for a declared or system provider: `base_url` from lobu.toml > `<ID>_BASE_URL` >
 * catalog; the catalog's dialect (unknown ids speak openai); the declared model, else the
 * catalog default. The key is `apiKey` when given, else read from env for an `env` key source.
 */
export function resolveTarget(spec: ProviderSpec, env: NodeJS.ProcessEnv = process.env, apiKey?: string): ProviderTarget {
  const entry = catalogEntry(spec.id)
  const baseUrl = resolveBaseUrl(spec.id, spec.baseUrl, env)
  if (!baseUrl) {
    throw new ProviderError('PROVIDER_ERROR', `provider "${spec.id}" has no base URL: set base_url in lobu.toml or ${baseUrlEnvName(spec.id)}`, {
      retryable: false,
      provider: spec.id,
    })
  }
  const model = spec.model || entry?.defaultModel
  if (!model) {
    throw new ProviderError('PROVIDER_ERROR', `provider "${spec.id}" has no model: set model in lobu.toml`, {retryable: false, provider: spec.id})
  }
  const key = apiKey ?? (spec.key.kind === 'env' ? env[spec.key.name] : undefined)
  return {
    id: spec.id,
    dialect: entry?.dialect ?? 'openai',
    baseUrl: baseUrl.replace(/\/+$/, ''),
    model,
    ...(key ? {apiKey: key} : {}),
  }
}

// ---------- the turn ----------

type AttemptResult = {kind: 'done'} | {kind: 'retry'; error: ProviderError; waitMs?: number}

async function* runTurn(input: TurnInput): AsyncGenerator<ProviderEvent[], void, undefined> {
  const {target} = input
  const adapter = dialectAdapter(target.dialect)
  const spec = adapter.buildRequest(input)
  const idleMs = input.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const state = {yielded: false}
  for (let attempt = 0; ; attempt++) {
    if (input.signal.aborted) throw abortedError(target)
    const result: AttemptResult = yield* attemptOnce(input, adapter, spec, idleMs, state)
    if (result.kind === 'done') return
    const {error} = result
    const waitMs = result.waitMs ?? backoffMs(attempt)
    if (attempt >= MAX_RETRIES || waitMs > MAX_RETRY_WAIT_MS) throw attempt === 0 ? error : withAttempts(error, attempt + 1)
    try {
      await sleep(waitMs, input.signal)
    } catch {
      throw abortedError(target)
    }
  }
}

async function* attemptOnce(
  input: TurnInput,
  adapter: DialectAdapter,
  spec: HttpRequestSpec,
  idleMs: number,
  state: {yielded: boolean},
): AsyncGenerator<ProviderEvent[], AttemptResult, undefined> {
  const {target} = input
  const watch = new Watchdog(input.signal, idleMs)
  let body: Awaited<ReturnType<typeof request>>['body'] | undefined
  let finished = false // body read to its end, or the terminal marker seen
  let complete = false
  try {
    let res: Awaited<ReturnType<typeof request>>
    try {
      const undici = await loadUndici()
      // A tenant-set URL on a team gateway: checked as written, then every address at connect time.
      target.egress?.assertUrl(spec.url)
      res = await undici.request(spec.url, {
        method: 'POST',
        headers: spec.headers,
        body: spec.body,
        signal: watch.signal,
        dispatcher: target.egress ? target.egress.dispatcher(undici) : providerAgent(undici),
      })
    } catch (err) {
      const error = translate(err, input, watch, 'connect')
      if (error.code === 'PROVIDER_ERROR' && error.retryable) return {kind: 'retry', error}
      throw error
    }
    body = res.body
    watch.touch()
    const contentType = String(res.headers['content-type'] ?? '').toLowerCase()

    if (res.statusCode >= 300 || contentType.includes('application/json')) {
      const text = await readText(body, watch, input)
      finished = true
      const info = adapter.parseError(res.statusCode, text)
      if (res.statusCode < 300) {
        const detail = farSideDetail(target, info.message)
        throw new ProviderError('PROVIDER_ERROR', `${target.id} answered with JSON instead of an event stream${detail}`, {
          status: res.statusCode,
          retryable: false,
          provider: target.id,
        })
      }
      const error = statusError(target, res.statusCode, info.message, info.auth)
      if (error.code === 'PROVIDER_ERROR' && error.retryable) {
        return {kind: 'retry', error, waitMs: parseRetryAfter(res.headers) ?? info.retryAfterMs}
      }
      throw error
    }

    const decoder = adapter.createDecoder(target)
    const queue: EventSourceMessage[] = []
    let parseProblem: string | undefined
    const parser = createParser({
      onEvent: (event) => queue.push(event),
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') parseProblem = 'event too large'
      },
      maxBufferSize: MAX_EVENT_CHARS,
    })
    // StringDecoder, not TextDecoder: ASCII (most of every chunk: the JSON around the text)
    // becomes a one-byte string, where TextDecoder (ICU on Node 20) makes a two-byte one, twice
    // the memory and slower work for everything cut from it, down to the SSE frames.
    const text = new StringDecoder('utf8')
    try {
      // Not destroyed when left early (the terminal marker seen): see the finally below.
      for await (const chunk of body.iterator({destroyOnReturn: false})) {
        watch.touch()
        parser.feed(text.write(chunk as Buffer))
        if (parseProblem) throw badChunk(target, parseProblem)
        if (queue.length === 0) continue
        let batch: ProviderEvent[] = []
        // An in-stream error: the events before it still go out first.
        let failure: unknown
        for (let i = 0; i < queue.length && !decoder.complete; i++) {
          let events: ProviderEvent[]
          try {
            events = decoder.push(queue[i]!)
          } catch (err) {
            failure = err
            break
          }
          if (events.length === 0) continue
          if (batch.length === 0) batch = events
          else for (const event of events) batch.push(event)
        }
        queue.length = 0
        if (decoder.complete) complete = true
        if (batch.length > 0) {
          if (batch.some((event) => event.type !== 'done')) state.yielded = true
          watch.pause()
          yield batch
          watch.resume()
        }
        if (failure !== undefined) throw failure
        if (complete) return {kind: 'done'}
      }
      finished = true
      const trailing = decoder.end()
      if (trailing.length > 0) {
        watch.pause()
        yield trailing
        watch.resume()
      }
      return {kind: 'done'}
    } catch (err) {
      const error = translate(err, input, watch, 'stream')
      // An error event before anything reached the caller (e.g. Anthropic overloaded_error) is retried like its status.
      if (!state.yielded && error.code === 'PROVIDER_ERROR' && error.retryable && error.status !== undefined) {
        return {kind: 'retry', error}
      }
      throw error
    }
  } finally {
    watch.dispose()
    if (body && !finished) {
      if (complete) drainRest(body)
      else {
        // Cut short (an error, an abort, the consumer left): the connection is closed. The body
        // reports that as an error event, which nobody needs any more.
        body.on('error', ignore)
        body.destroy()
      }
    }
  }
}

function ignore(): void {}

/** How long the rest of a body after its terminal marker may take before the connection is dropped. */
const DRAIN_MS = 2_000

/**
 * The terminal marker was seen: let the (tiny) rest of the body arrive so the connection can
 * be reused, without holding it for long.
 */
function drainRest(body: Awaited<ReturnType<typeof request>>['body']): void {
  if (body.destroyed || body.readableEnded) return
  const timer = setTimeout(() => body.destroy(), DRAIN_MS)
  timer.unref?.()
  body.dump({limit: MAX_ERROR_BODY_BYTES}).then(
    () => clearTimeout(timer),
    () => clearTimeout(timer),
  )
}

async function readText(body: AsyncIterable<unknown>, watch: Watchdog, input: TurnInput): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  let bytes = 0
  try {
    for await (const chunk of body) {
      watch.touch()
      const buf = chunk as Uint8Array
      bytes += buf.byteLength
      if (bytes <= MAX_ERROR_BODY_BYTES) text += decoder.decode(buf, {stream: true})
    }
  } catch (err) {
    throw translate(err, input, watch, 'stream')
  }
  return text + decoder.decode()
}

function translate(err: unknown, input: TurnInput, watch: Watchdog, phase: 'connect' | 'stream'): ProviderError {
  const {target} = input
  if (input.signal.aborted) return abortedError(target)
  if (watch.timedOut) {
    return new ProviderError('TIMEOUT', `${target.id} sent nothing for ${formatMs(input.timeoutMs ?? DEFAULT_TIMEOUT_MS)}`, {
      retryable: true,
      provider: target.id,
    })
  }
  if (err instanceof ProviderError) return err
  const refused = egressRefusal(err)
  if (refused) return new ProviderError('PROVIDER_ERROR', `${target.id}: ${refused.message}`, {retryable: false, provider: target.id})
  const reason = describeNetworkError(err)
  if (phase === 'stream') return unexpectedEnd(target, reason)
  let origin = target.baseUrl
  try {
    origin = new URL(target.baseUrl).origin
  } catch {
    // keep the raw base URL
  }
  return new ProviderError('PROVIDER_ERROR', `${target.id}: could not reach ${origin} (${oneLine(redact(reason, target.apiKey))})`, {
    retryable: true,
    provider: target.id,
    cause: err,
  })
}

function describeNetworkError(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as {code?: unknown; message?: unknown; cause?: unknown}
    if (typeof e.code === 'string' && e.code === 'UND_ERR_SOCKET') return 'connection closed'
    if (typeof e.code === 'string' && !e.code.startsWith('UND_ERR')) return e.code
    if (typeof e.message === 'string' && e.message) return e.message
  }
  return String(err)
}

function abortedError(target: ProviderTarget): ProviderError {
  return new ProviderError('ABORTED', `${target.id}: request aborted`, {retryable: false, provider: target.id})
}

function withAttempts(error: ProviderError, attempts: number): ProviderError {
  return new ProviderError(error.code, `${error.message} (after ${attempts} attempts)`, {
    status: error.status,
    retryable: error.retryable,
    provider: error.provider,
    cause: error.cause,
  })
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

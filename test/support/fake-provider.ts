/**
 * A fake model provider speaking the three wire dialects on their real paths, replaying each
 * service's documented stream format (framing, field order, whitespace, usage) and its real
 * error bodies. Used by provider tests, gateway tests, CLI end-to-end tests and benchmarks.
 *
 *   const fake = await startFakeProvider()
 *   fake.urls.openai     // http://127.0.0.1:PORT/v1      → POST /v1/chat/completions
 *   fake.urls.anthropic  // http://127.0.0.1:PORT         → POST /v1/messages
 *   fake.urls.gemini     // http://127.0.0.1:PORT/v1beta  → POST /v1beta/models/{model}:streamGenerateContent?alt=sse
 *
 * What it answers (each request that gets a stream takes the first that applies):
 *
 *   fake.script(a, b, …)   a queue: the next request answers a, the one after b, …
 *   fake.reply(x)          the answer once the queue is empty (default: "echo: <last user text>")
 *
 * where an answer is a text (split into word deltas), a FakeReply, or a function of the request
 * (`(turn: FakeTurn) => string | FakeReply`), e.g. for a model that calls tools until it sees
 * their results:
 *
 *   fake.script(
 *     {text: 'Let me look.', toolCalls: [{name: 'fs__read', arguments: {path: 'a.txt'}}, {name: 'fs__list', arguments: '{}'}]},
 *     (turn) => `read: ${turn.messages.filter((m) => m.role === 'tool').map((m) => m.content).join(', ')}`,
 *   )
 *
 * Tool calls are streamed in each dialect's exact form: OpenAI `delta.tool_calls` fragments by
 * index (id and name first, the arguments split over two chunks), Anthropic `tool_use` blocks
 * with `input_json_delta` pieces after the text block, Gemini `functionCall` parts in one chunk
 * after the text (the first with a `thoughtSignature`, as Gemini 2.5 and 3 send). The finish
 * reason is `tool_calls` / `tool_use` / `STOP`. Arguments may be an object or JSON text; text
 * that is not JSON is sent as is by OpenAI and Anthropic (a model's malformed arguments), and as
 * `{}` by Gemini, whose `args` is always an object.
 *
 * Every request is recorded in `fake.requests` (method, path, dialect, headers, parsed body)
 * with `turn`, the same request read back into one neutral form for every dialect: system text,
 * tools offered, and messages (`user`, `assistant` with `toolCalls`, `tool` results with
 * `callId`, `name`, `isError`), so a test can assert what history the gateway sent without
 * knowing the dialect.
 *
 * Like the real services, it refuses (400, the service's own message) a history that breaks
 * the dialect's pairing rules: a call without its result right after it, a result without its
 * call, and for Gemini 3 models a function call turn without its thought signature.
 *
 * Failures: `fail`, `cutAfter`, `streamError`, `replay`, `hang`, `slow` (see FakeProvider);
 * `reset()` clears everything, the queue and the recorded requests included.
 *
 * Standalone: `node --import tsx test/support/fake-provider.ts --port 8787 [--keys k1,k2]`
 * prints the base URLs as one JSON line; `POST /__fake/control {"action": "reply", "args": ["hi"]}`
 * drives the same scenario methods (`script` too, with JSON answers), `GET /__fake/requests`
 * lists the recorded requests.
 */
import http, {type IncomingHttpHeaders, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {pathToFileURL} from 'node:url'

export type FakeDialect = 'openai' | 'anthropic' | 'gemini'

export interface FakeUsage {
  inputTokens: number
  outputTokens: number
}

export interface FakeToolCall {
  name: string
  /** The arguments: an object, or JSON text (sent as is, even when malformed; Gemini: `{}` then). */
  arguments: string | Record<string, unknown>
  /** Default: a fresh id in the dialect's style (`call_…`, `toolu_01…`); Gemini sends none. */
  id?: string
}

export interface FakeReply {
  /** The text, split into word deltas (ignored when `chunks` is given). */
  text?: string
  /** The text deltas, in order (may be empty when the reply is only tool calls). */
  chunks?: string[]
  /** Pause before each chunk after the first (ms). */
  delayMs?: number
  toolCalls?: FakeToolCall[]
  /** Defaults: ⌈prompt chars / 4⌉ in, ⌈reply chars / 4⌉ out. */
  usage?: FakeUsage
}

export interface FakeFailure {
  status: number
  /** Raw body (string) or a JSON value; default: the dialect's real error body for `status`. */
  body?: string | object
  /** Retry-After in seconds (Gemini: RetryInfo.retryDelay in the body, as the real API does). */
  retryAfter?: number
  /** How many requests fail before the normal reply resumes. Default: all of them. */
  times?: number
}

export interface FakeRecording {
  body: string
  status?: number
  /** Default: `content-type: text/event-stream`. */
  headers?: Record<string, string>
}

export interface FakeRequest {
  method: string
  /** Path and query, e.g. `/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`. */
  path: string
  dialect: FakeDialect | null
  headers: IncomingHttpHeaders
  /** The parsed JSON body (undefined when the body was not JSON). */
  body: any
  /** The body read back in one form for all dialects (undefined unless a provider request with a JSON body). */
  turn?: FakeTurn
}

/** A tool call as read from a request's history. */
export interface FakeSentCall {
  /** Absent for Gemini (its calls carry no id). */
  id?: string
  name: string
  /** JSON text (Anthropic's `input` and Gemini's `args` objects are stringified). */
  arguments: string
  /** Gemini's `thoughtSignature` on the part, when sent. */
  signature?: string
}

export type FakeMessage =
  | {role: 'user'; content: string}
  | {role: 'assistant'; content: string; toolCalls?: FakeSentCall[]}
  /** `callId` absent for Gemini; `name` looked up from the call when the dialect does not repeat it. */
  | {role: 'tool'; callId?: string; name?: string; content: string; isError?: boolean}

export interface FakeTool {
  name: string
  description?: string
  parameters?: unknown
}

/** What a request asked for, the same for every dialect. */
export interface FakeTurn {
  dialect: FakeDialect
  model: string
  system: string
  tools: FakeTool[]
  messages: FakeMessage[]
  /** The text of the last user message (tool results are not user text). */
  lastUser: string
}

/** An answer: a text, a reply, or a function of the request giving one. */
export type FakeAnswer = string | FakeReply | ((turn: FakeTurn) => string | FakeReply)

export interface FakeProviderOptions {
  host?: string
  port?: number
  /** When set, a request whose key is not in the set gets the provider's real auth error. */
  keys?: Iterable<string>
}

export interface FakeProvider {
  readonly port: number
  readonly urls: {openai: string; anthropic: string; gemini: string}
  readonly requests: FakeRequest[]
  /** The answer to the following requests once the script is used up: a text (split into word deltas), a reply, or a function of the request. */
  reply(reply: FakeAnswer): void
  /** Queue answers, one per request, before `reply`'s. Requests that fail (`fail`, a bad key, a refused history) take none. */
  script(...answers: FakeAnswer[]): void
  /** How many scripted answers are still queued. */
  readonly scriptLeft: number
  fail(failure: FakeFailure): void
  /** Close the connection after `n` text chunks (abruptly; `graceful` ends the body cleanly, still without the terminal marker). */
  cutAfter(n: number, options?: {graceful?: boolean}): void
  /** Send the dialect's in-stream error event after `n` text chunks, then end the stream. */
  streamError(n: number, options?: {status?: number}): void
  /** Answer the following requests with these exact bytes (a recorded stream or body). */
  replay(recording: FakeRecording): void
  /** Send 200 and the stream headers, then nothing. */
  hang(): void
  /** Pause `ms` between chunks. */
  slow(ms: number): void
  /** Back to the default echo reply, no failures; clears `requests`. */
  reset(): void
  /** Resolves when the response to request `index` is over; `early` when the connection closed before the response completed. */
  whenClosed(index: number): Promise<{early: boolean}>
  close(): Promise<void>
}

// ---------- deterministic ids (so recorded streams are reproducible) ----------

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

class Ids {
  private state = 0x2545f491
  next(length: number, alphabet = ALNUM): string {
    let out = ''
    for (let i = 0; i < length; i++) {
      this.state ^= this.state << 13
      this.state ^= this.state >>> 17
      this.state ^= this.state << 5
      out += alphabet[(this.state >>> 0) % alphabet.length]
    }
    return out
  }
}

// ---------- JSON styles ----------

/** Google's wire style: `{"a": 1,"b": [{"c": "d"}]}` (space after colon, none after comma). */
export function googleJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => googleJson(v)).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${googleJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** Anthropic's stream style: compact JSON with a space before the outermost closing brace. */
function anthropicJson(value: object): string {
  return JSON.stringify(value).replace(/}$/, ' }')
}

// ---------- per-dialect request reading ----------

type Json = Record<string, any>

function textOf(content: unknown): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === 'object' && typeof (part as Json).text === 'string' ? (part as Json).text : ''))
      .join('')
  }
  return ''
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const arr = (v: unknown): any[] => (Array.isArray(v) ? v : [])

/** Reads a request body of any dialect into the neutral FakeTurn. */
export function readTurn(dialect: FakeDialect, model: string, body: Json): FakeTurn {
  const messages: FakeMessage[] = []
  const tools: FakeTool[] = []
  let system = ''
  const names = new Map<string, string>()
  if (dialect === 'openai') {
    const systems: string[] = []
    for (const m of arr(body.messages)) {
      if (m?.role === 'system' || m?.role === 'developer') systems.push(textOf(m.content))
      else if (m?.role === 'user') messages.push({role: 'user', content: textOf(m.content)})
      else if (m?.role === 'assistant') {
        const calls: FakeSentCall[] = arr(m.tool_calls).map((c) => ({id: str(c?.id), name: str(c?.function?.name), arguments: str(c?.function?.arguments)}))
        for (const c of calls) names.set(c.id!, c.name)
        messages.push(calls.length > 0 ? {role: 'assistant', content: textOf(m.content), toolCalls: calls} : {role: 'assistant', content: textOf(m.content)})
      } else if (m?.role === 'tool') {
        const callId = str(m.tool_call_id)
        messages.push({role: 'tool', callId, name: names.get(callId), content: textOf(m.content)})
      }
    }
    system = systems.join('\n\n')
    for (const t of arr(body.tools)) tools.push({name: str(t?.function?.name), description: t?.function?.description, parameters: t?.function?.parameters})
  } else if (dialect === 'anthropic') {
    system = textOf(body.system)
    for (const m of arr(body.messages)) {
      if (typeof m?.content === 'string') {
        messages.push(m.role === 'assistant' ? {role: 'assistant', content: m.content} : {role: 'user', content: m.content})
        continue
      }
      const blocks = arr(m?.content)
      if (m?.role === 'assistant') {
        const calls: FakeSentCall[] = blocks
          .filter((b) => b?.type === 'tool_use')
          .map((b) => ({id: str(b.id), name: str(b.name), arguments: JSON.stringify(b.input ?? {})}))
        for (const c of calls) names.set(c.id!, c.name)
        const content = blocks.filter((b) => b?.type === 'text').map((b) => str(b.text)).join('')
        messages.push(calls.length > 0 ? {role: 'assistant', content, toolCalls: calls} : {role: 'assistant', content})
        continue
      }
      let text: string[] = []
      const flush = (): void => {
        if (text.length > 0) messages.push({role: 'user', content: text.join('')})
        text = []
      }
      for (const b of blocks) {
        if (b?.type === 'tool_result') {
          flush()
          const callId = str(b.tool_use_id)
          messages.push({role: 'tool', callId, name: names.get(callId), content: textOf(b.content), ...(b.is_error === true ? {isError: true} : {})})
        } else if (b?.type === 'text') text.push(str(b.text))
      }
      flush()
    }
    for (const t of arr(body.tools)) tools.push({name: str(t?.name), description: t?.description, parameters: t?.input_schema})
  } else {
    system = textOf(body.systemInstruction?.parts)
    for (const c of arr(body.contents)) {
      const parts = arr(c?.parts)
      if (c?.role === 'model') {
        const calls: FakeSentCall[] = parts
          .filter((p) => p?.functionCall)
          .map((p) => ({
            ...(p.functionCall.id ? {id: str(p.functionCall.id)} : {}),
            name: str(p.functionCall.name),
            arguments: JSON.stringify(p.functionCall.args ?? {}),
            ...(p.thoughtSignature ? {signature: str(p.thoughtSignature)} : {}),
          }))
        const content = parts.filter((p) => typeof p?.text === 'string' && p.thought !== true).map((p) => p.text).join('')
        messages.push(calls.length > 0 ? {role: 'assistant', content, toolCalls: calls} : {role: 'assistant', content})
        continue
      }
      let text: string[] = []
      const flush = (): void => {
        if (text.length > 0) messages.push({role: 'user', content: text.join('')})
        text = []
      }
      for (const p of parts) {
        if (p?.functionResponse) {
          flush()
          const r = p.functionResponse
          const response = (r.response ?? {}) as Json
          const isError = response.error !== undefined && response.output === undefined
          const value = isError ? response.error : (response.output ?? response)
          messages.push({
            role: 'tool',
            ...(r.id ? {callId: str(r.id)} : {}),
            name: str(r.name),
            content: typeof value === 'string' ? value : JSON.stringify(value),
            ...(isError ? {isError: true} : {}),
          })
        } else if (typeof p?.text === 'string') text.push(p.text)
      }
      flush()
    }
    for (const group of arr(body.tools)) {
      for (const d of arr(group?.functionDeclarations)) tools.push({name: str(d?.name), description: d?.description, parameters: d?.parameters})
    }
  }
  let lastUser = ''
  for (const m of messages) if (m.role === 'user') lastUser = m.content
  return {dialect, model, system, tools, messages, lastUser}
}

function promptChars(turn: FakeTurn): number {
  let n = turn.system.length
  for (const m of turn.messages) {
    n += m.content.length
    if (m.role === 'assistant') for (const c of m.toolCalls ?? []) n += c.arguments.length
  }
  return n
}

/**
 * The service's own 400 message for a history that breaks its pairing rules, or undefined.
 * OpenAI: each assistant `tool_calls` answered by `tool` messages right after, and no `tool`
 * message without its call. Anthropic: each `tool_use` answered by a `tool_result` in the next
 * (user) message, and no `tool_result` without a `tool_use` in the previous one. Gemini: a function
 * call turn right after a user turn, followed by as many function responses as calls; on Gemini 3
 * models, the first call of each turn carries its thought signature.
 */
function historyError(dialect: FakeDialect, model: string, body: Json): string | undefined {
  if (dialect === 'openai') {
    const list = arr(body.messages)
    let pending: string[] = []
    for (const m of list) {
      if (m?.role === 'tool') {
        const id = str(m.tool_call_id)
        if (!pending.includes(id)) return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
        pending = pending.filter((p) => p !== id)
        continue
      }
      if (pending.length > 0) {
        return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${pending.join(', ')}`
      }
      if (m?.role === 'assistant') pending = arr(m.tool_calls).map((c) => str(c?.id))
    }
    if (pending.length > 0) {
      return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${pending.join(', ')}`
    }
    return undefined
  }
  if (dialect === 'anthropic') {
    const list = arr(body.messages)
    for (let i = 0; i < list.length; i++) {
      const blocks = Array.isArray(list[i]?.content) ? list[i].content : []
      const uses = list[i]?.role === 'assistant' ? blocks.filter((b: Json) => b?.type === 'tool_use').map((b: Json) => str(b.id)) : []
      const next = list[i + 1]
      const answered = next?.role === 'user' && Array.isArray(next.content) ? next.content.filter((b: Json) => b?.type === 'tool_result').map((b: Json) => str(b.tool_use_id)) : []
      const missing = uses.filter((id: string) => !answered.includes(id))
      if (missing.length > 0) {
        return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`
      }
      if (list[i]?.role === 'user') {
        const prev = list[i - 1]
        const prevUses = prev?.role === 'assistant' && Array.isArray(prev.content) ? prev.content.filter((b: Json) => b?.type === 'tool_use').map((b: Json) => str(b.id)) : []
        const j = blocks.findIndex((b: Json) => b?.type === 'tool_result' && !prevUses.includes(str(b.tool_use_id)))
        if (j >= 0) {
          return `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${str(blocks[j].tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`
        }
      }
    }
    return undefined
  }
  const contents = arr(body.contents)
  for (let i = 0; i < contents.length; i++) {
    const parts = arr(contents[i]?.parts)
    const calls = contents[i]?.role === 'model' ? parts.filter((p) => p?.functionCall) : []
    const responses = contents[i]?.role !== 'model' ? parts.filter((p) => p?.functionResponse).length : 0
    if (calls.length > 0) {
      const prev = contents[i - 1]
      if (!prev || prev.role === 'model') {
        return 'Please ensure that function call turn comes immediately after a user turn or after a function response turn.'
      }
      const next = contents[i + 1]
      const answered = next && next.role !== 'model' ? arr(next.parts).filter((p) => p?.functionResponse).length : 0
      if (next && answered !== calls.length) {
        return 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.'
      }
      if (/^gemini-3/.test(model) && !calls[0].thoughtSignature) {
        return `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${str(calls[0].functionCall.name)}\` , position ${i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`
      }
    }
    if (responses > 0) {
      const prev = contents[i - 1]
      const prevCalls = prev?.role === 'model' ? arr(prev.parts).filter((p) => p?.functionCall).length : 0
      if (prevCalls !== responses) {
        return 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.'
      }
    }
  }
  return undefined
}

function splitWords(text: string): string[] {
  const words = text.match(/\s*\S+\s*/g)
  return words && words.length > 0 ? words : [text]
}

interface PlannedCall {
  name: string
  /** JSON text (possibly malformed, as a model may send it). */
  arguments: string
  id: string
}

interface PlannedReply {
  chunks: string[]
  toolCalls: PlannedCall[]
  /** Gemini's thought signature for the first function call part. */
  signature: string
  usage: FakeUsage
  delayMs: number
}

// ---------- stream plans ----------

interface StreamPlan {
  headers: Record<string, string>
  head: string[]
  /** One frame per text chunk. */
  body: string[]
  tail: string[]
  error(status: number): string
}

function halves(text: string): string[] {
  if (text.length < 2) return [text]
  const mid = Math.ceil(text.length / 2)
  return [text.slice(0, mid), text.slice(mid)]
}

function openaiPlan(ids: Ids, request: Json, reply: PlannedReply): StreamPlan {
  const includeUsage = request.stream_options?.include_usage === true
  const base = {
    id: `chatcmpl-${ids.next(29)}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: String(request.model ?? ''),
    service_tier: 'default',
    system_fingerprint: `fp_${ids.next(10, '0123456789abcdef')}`,
  }
  const frame = (choices: unknown[], usage: unknown = null): string => {
    const chunk: Json = {...base, choices}
    if (includeUsage) chunk.usage = usage
    chunk.obfuscation = ids.next(1 + (ids.next(1, '0123456789').charCodeAt(0) % 10))
    return `data: ${JSON.stringify(chunk)}\n\n`
  }
  const choice = (delta: unknown, finish: string | null = null): Json => ({index: 0, delta, logprobs: null, finish_reason: finish})
  const onlyTools = reply.chunks.length === 0 && reply.toolCalls.length > 0
  const head = [frame([choice({role: 'assistant', content: onlyTools ? null : '', refusal: null})])]
  const body = reply.chunks.map((text) => frame([choice({content: text})]))
  const tail: string[] = []
  reply.toolCalls.forEach((call, index) => {
    tail.push(frame([choice({tool_calls: [{index, id: call.id, type: 'function', function: {name: call.name, arguments: ''}}]})]))
    for (const piece of halves(call.arguments)) tail.push(frame([choice({tool_calls: [{index, function: {arguments: piece}}]})]))
  })
  tail.push(frame([choice({}, reply.toolCalls.length > 0 ? 'tool_calls' : 'stop')]))
  if (includeUsage) {
    const {inputTokens, outputTokens} = reply.usage
    tail.push(
      frame([], {
        prompt_tokens: inputTokens,
        completion_tokens: outputTokens,
        total_tokens: inputTokens + outputTokens,
        prompt_tokens_details: {cached_tokens: 0, audio_tokens: 0},
        completion_tokens_details: {reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0},
      }),
    )
  }
  tail.push('data: [DONE]\n\n')
  return {
    headers: {'content-type': 'text/event-stream; charset=utf-8', 'x-request-id': `req_${ids.next(32, '0123456789abcdef')}`},
    head,
    body,
    tail,
    error: (status) => `data: ${JSON.stringify({error: openaiErrorObject(status, String(request.model ?? ''))})}\n\n`,
  }
}

function anthropicPlan(ids: Ids, request: Json, reply: PlannedReply): StreamPlan {
  const event = (name: string, json: string): string => `event: ${name}\ndata: ${json}\n\n`
  const {inputTokens, outputTokens} = reply.usage
  const hasText = reply.chunks.length > 0
  const head = [
    event(
      'message_start',
      anthropicJson({
        type: 'message_start',
        message: {
          model: String(request.model ?? ''),
          id: `msg_01${ids.next(22)}`,
          type: 'message',
          role: 'assistant',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: inputTokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            cache_creation: {ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0},
            output_tokens: 1,
            service_tier: 'standard',
          },
        },
      }),
    ),
  ]
  if (hasText) head.push(event('content_block_start', anthropicJson({type: 'content_block_start', index: 0, content_block: {type: 'text', text: ''}})))
  head.push(event('ping', '{"type": "ping"}'))
  const body = reply.chunks.map((text) =>
    event('content_block_delta', anthropicJson({type: 'content_block_delta', index: 0, delta: {type: 'text_delta', text}})),
  )
  const tail: string[] = []
  if (hasText) tail.push(event('content_block_stop', anthropicJson({type: 'content_block_stop', index: 0})))
  reply.toolCalls.forEach((call, i) => {
    const index = hasText ? i + 1 : i
    tail.push(
      event('content_block_start', anthropicJson({type: 'content_block_start', index, content_block: {type: 'tool_use', id: call.id, name: call.name, input: {}}})),
    )
    for (const piece of ['', ...halves(call.arguments)]) {
      tail.push(event('content_block_delta', anthropicJson({type: 'content_block_delta', index, delta: {type: 'input_json_delta', partial_json: piece}})))
    }
    tail.push(event('content_block_stop', anthropicJson({type: 'content_block_stop', index})))
  })
  tail.push(
    event(
      'message_delta',
      anthropicJson({
        type: 'message_delta',
        delta: {stop_reason: reply.toolCalls.length > 0 ? 'tool_use' : 'end_turn', stop_sequence: null},
        usage: {input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens},
      }),
    ),
  )
  tail.push(event('message_stop', anthropicJson({type: 'message_stop'})))
  return {
    headers: {'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': `req_011C${ids.next(20)}`},
    head,
    body,
    tail,
    error: (status) => {
      const {type, message} = anthropicErrorObject(status)
      return event('error', `{"type": "error", "error": {"type": ${JSON.stringify(type)}, "message": ${JSON.stringify(message)}}}`)
    },
  }
}

/** Gemini's `args` is always an object: JSON text of an object, else `{}`. */
function argsObject(text: string): Json {
  try {
    const value: unknown = JSON.parse(text)
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {}
  } catch {
    return {}
  }
}

function geminiPlan(ids: Ids, model: string, reply: PlannedReply): StreamPlan {
  const responseId = ids.next(23)
  const {inputTokens, outputTokens} = reply.usage
  const textChars = reply.chunks.reduce((n, c) => n + c.length, 0) || 1
  let sentChars = 0
  const frame = (parts: unknown[], finish: boolean, candidatesTokens: number): string => {
    const candidate: Json = {content: {parts, role: 'model'}}
    if (finish) candidate.finishReason = 'STOP'
    candidate.index = 0
    const chunk = {
      candidates: [candidate],
      usageMetadata: {
        promptTokenCount: inputTokens,
        candidatesTokenCount: candidatesTokens,
        totalTokenCount: inputTokens + candidatesTokens,
        promptTokensDetails: [{modality: 'TEXT', tokenCount: inputTokens}],
      },
      modelVersion: model,
      responseId,
    }
    return `data: ${googleJson(chunk)}\r\n\r\n`
  }
  const hasTools = reply.toolCalls.length > 0
  const texts = reply.chunks.length > 0 || hasTools ? reply.chunks : ['']
  const body = texts.map((text, i) => {
    sentChars += text.length
    const last = i === texts.length - 1 && !hasTools
    const tokens = last ? outputTokens : Math.max(1, Math.round((outputTokens * sentChars) / textChars))
    return frame([{text}], last, tokens)
  })
  // Gemini 2.5 and 3 sign the first function call part of a response (parallel calls: only the first).
  const tail = hasTools
    ? [
        frame(
          reply.toolCalls.map((c, i) => ({functionCall: {name: c.name, args: argsObject(c.arguments)}, ...(i === 0 ? {thoughtSignature: reply.signature} : {})})),
          true,
          outputTokens,
        ),
      ]
    : []
  return {
    headers: {'content-type': 'text/event-stream', 'x-content-type-options': 'nosniff'},
    head: [],
    body,
    tail,
    error: (status) => `data: ${googleJson({error: geminiErrorObject(status)})}\r\n\r\n`,
  }
}

// ---------- real error bodies ----------

function maskKey(key: string): string {
  if (key.length <= 8) return '*'.repeat(key.length)
  const head = key.slice(0, Math.min(8, Math.floor(key.length / 3)))
  return `${head}${'*'.repeat(Math.max(4, key.length - head.length - 4))}${key.slice(-4)}`
}

function openaiErrorObject(status: number, model: string, key?: string | null): Json {
  switch (status) {
    case 401:
      return key
        ? {
            message: `Incorrect API key provided: ${maskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          }
        : {
            message:
              "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
            type: 'invalid_request_error',
            param: null,
            code: null,
          }
    case 403:
      return {message: 'Country, region, or territory not supported', type: 'request_forbidden', param: null, code: 'unsupported_country_region_territory'}
    case 429:
      return {
        message: `Rate limit reached for ${model} in organization org-fakeprovider on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      }
    case 503:
      return {message: 'The engine is currently overloaded, please try again later', type: 'server_error', param: null, code: null}
    default:
      return status >= 500
        ? {message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null}
        : {message: `Fake provider error ${status}.`, type: 'invalid_request_error', param: null, code: null}
  }
}

function anthropicErrorObject(status: number, key?: string | null): {type: string; message: string} {
  switch (status) {
    case 401:
      return {type: 'authentication_error', message: key === null ? 'x-api-key header is required' : 'invalid x-api-key'}
    case 403:
      return {type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.'}
    case 404:
      return {type: 'not_found_error', message: 'Not found'}
    case 429:
      return {
        type: 'rate_limit_error',
        message:
          "This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
      }
    case 529:
      return {type: 'overloaded_error', message: 'Overloaded'}
    default:
      return status >= 500 ? {type: 'api_error', message: 'Internal server error'} : {type: 'invalid_request_error', message: `Fake provider error ${status}.`}
  }
}

function geminiErrorObject(status: number, retryAfter?: number, badKey = false): Json {
  switch (status) {
    case 400:
      if (!badKey) return {code: 400, message: 'Request contains an invalid argument.', status: 'INVALID_ARGUMENT'}
      return {
        code: 400,
        message: 'API key not valid. Please pass a valid API key.',
        status: 'INVALID_ARGUMENT',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'API_KEY_INVALID',
            domain: 'googleapis.com',
            metadata: {service: 'generativelanguage.googleapis.com'},
          },
          {'@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.'},
        ],
      }
    case 401:
      return {
        code: 401,
        message:
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
        status: 'UNAUTHENTICATED',
      }
    case 403:
      return {
        code: 403,
        message:
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        status: 'PERMISSION_DENIED',
      }
    case 429: {
      const error: Json = {
        code: 429,
        message:
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
        status: 'RESOURCE_EXHAUSTED',
      }
      if (retryAfter !== undefined) error.details = [{'@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfter}s`}]
      return error
    }
    case 503:
      return {code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE'}
    default:
      return status >= 500
        ? {
            code: status,
            message: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
            status: 'INTERNAL',
          }
        : {code: status, message: `Fake provider error ${status}.`, status: 'INVALID_ARGUMENT'}
  }
}

interface ErrorResponse {
  headers: Record<string, string>
  body: string
}

function errorResponse(
  ids: Ids,
  dialect: FakeDialect,
  status: number,
  ctx: {model: string; key?: string | null; retryAfter?: number; badKey?: boolean},
): ErrorResponse {
  const retry: Record<string, string> = ctx.retryAfter !== undefined && dialect !== 'gemini' ? {'retry-after': String(ctx.retryAfter)} : {}
  if (dialect === 'openai') {
    return {
      headers: {'content-type': 'application/json; charset=utf-8', 'x-request-id': `req_${ids.next(32, '0123456789abcdef')}`, ...retry},
      body: JSON.stringify({error: openaiErrorObject(status, ctx.model, ctx.key)}, null, 4) + '\n',
    }
  }
  if (dialect === 'anthropic') {
    const requestId = `req_011C${ids.next(20)}`
    return {
      headers: {'content-type': 'application/json', 'request-id': requestId, 'x-should-retry': String(status === 429 || status >= 500), ...retry},
      body: JSON.stringify({type: 'error', error: anthropicErrorObject(status, ctx.key), request_id: requestId}),
    }
  }
  return {
    headers: {'content-type': 'application/json; charset=UTF-8', vary: 'Origin, X-Origin, Referer'},
    body: JSON.stringify({error: geminiErrorObject(status, ctx.retryAfter, ctx.badKey)}, null, 2) + '\n',
  }
}

/** A 400 with the service's own body for an invalid request, carrying `message`. */
function invalidRequest(ids: Ids, dialect: FakeDialect, message: string): ErrorResponse {
  if (dialect === 'openai') {
    return {
      headers: {'content-type': 'application/json; charset=utf-8', 'x-request-id': `req_${ids.next(32, '0123456789abcdef')}`},
      body: JSON.stringify({error: {message, type: 'invalid_request_error', param: 'messages', code: null}}, null, 4) + '\n',
    }
  }
  if (dialect === 'anthropic') {
    const requestId = `req_011C${ids.next(20)}`
    return {
      headers: {'content-type': 'application/json', 'request-id': requestId, 'x-should-retry': 'false'},
      body: JSON.stringify({type: 'error', error: {type: 'invalid_request_error', message}, request_id: requestId}),
    }
  }
  return {
    headers: {'content-type': 'application/json; charset=UTF-8', vary: 'Origin, X-Origin, Referer'},
    body: JSON.stringify({error: {code: 400, message, status: 'INVALID_ARGUMENT'}}, null, 2) + '\n',
  }
}

// ---------- the server ----------

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')))
    req.on('error', reject)
  })
}

function keyOf(dialect: FakeDialect, req: IncomingMessage, url: URL): string | null {
  if (dialect === 'openai') {
    const auth = req.headers.authorization
    return auth && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, '') : null
  }
  if (dialect === 'anthropic') return (req.headers['x-api-key'] as string | undefined) ?? null
  return (req.headers['x-goog-api-key'] as string | undefined) ?? url.searchParams.get('key')
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  const host = options.host ?? '127.0.0.1'
  const keys = options.keys ? new Set(options.keys) : undefined
  const ids = new Ids()
  const requests: FakeRequest[] = []
  const closed: Promise<{early: boolean}>[] = []
  const live = new Set<ServerResponse>()

  let failure: (FakeFailure & {remaining: number}) | null = null
  let cut: {n: number; graceful: boolean} | null = null
  let midError: {n: number; status: number} | null = null
  let hanging = false
  let slowMs = 0
  let recording: FakeRecording | null = null

  let replySpec: FakeAnswer | null = null
  const queue: FakeAnswer[] = []

  const plan = (turn: FakeTurn): PlannedReply => {
    const answer = queue.length > 0 ? queue.shift()! : (replySpec ?? `echo: ${turn.lastUser}`)
    const given = typeof answer === 'function' ? answer(turn) : answer
    const spec: FakeReply = typeof given === 'string' ? {chunks: splitWords(given)} : given
    const chunks = spec.chunks ?? (spec.text === undefined || spec.text === '' ? [] : splitWords(spec.text))
    const toolCalls = (spec.toolCalls ?? []).map((c) => {
      const id = c.id ?? (turn.dialect === 'anthropic' ? `toolu_01${ids.next(22)}` : `call_${ids.next(24)}`)
      return {name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments), id}
    })
    const replyChars = chunks.join('').length + toolCalls.reduce((n, c) => n + c.arguments.length, 0)
    return {
      chunks,
      toolCalls,
      signature: ids.next(48),
      usage: spec.usage ?? {inputTokens: Math.max(1, Math.ceil(promptChars(turn) / 4)), outputTokens: Math.max(1, Math.ceil(replyChars / 4))},
      delayMs: spec.delayMs ?? slowMs,
    }
  }

  const sendError = (res: ServerResponse, status: number, response: ErrorResponse): void => {
    res.writeHead(status, {...response.headers, 'content-length': String(Buffer.byteLength(response.body))})
    res.end(response.body)
  }

  const stream = async (res: ServerResponse, p: StreamPlan, delayMs: number): Promise<void> => {
    const gone = (): boolean => res.destroyed || res.writableEnded
    // The scenario as it was when the request arrived, clamped to this reply's length.
    const cutAt = cut ? {n: Math.min(cut.n, p.body.length), graceful: cut.graceful} : null
    const errorAt = midError ? {n: Math.min(midError.n, p.body.length), status: midError.status} : null
    res.writeHead(200, p.headers)
    res.flushHeaders()
    if (hanging) return
    /** Settles once the last chunk written has been handed to the socket. */
    let flushed: Promise<unknown> = Promise.resolve()
    const write = (chunk: string): void => {
      flushed = new Promise((resolve) => res.write(chunk, resolve))
    }
    for (const frame of p.head) write(frame)
    const stopAt = async (i: number): Promise<boolean> => {
      if (cutAt && cutAt.n === i) {
        // Graceful: end the body without the terminal marker. Abrupt: close the TCP connection
        // after what was written so far, leaving the chunked body unterminated. The abrupt cut
        // waits until those chunks are on the socket: from Node 24 on, a response buffers what
        // is written in the same tick, and ending its socket right away drops it (the client
        // then received nothing at all, not the text before the cut).
        if (cutAt.graceful) res.end()
        else {
          await flushed
          res.socket?.end()
        }
        return true
      }
      if (errorAt && errorAt.n === i) {
        res.end(p.error(errorAt.status))
        return true
      }
      return false
    }
    for (let i = 0; i <= p.body.length; i++) {
      if (i > 0 && delayMs > 0) await wait(delayMs)
      if (gone() || (await stopAt(i))) return
      if (i < p.body.length) write(p.body[i]!)
    }
    for (const frame of p.tail) res.write(frame)
    res.end()
  }

  const handleProvider = async (dialect: FakeDialect, req: IncomingMessage, res: ServerResponse, url: URL, raw: string, model: string): Promise<void> => {
    let body: Json
    try {
      body = JSON.parse(raw) as Json
    } catch {
      sendError(res, 400, errorResponse(ids, dialect, 400, {model}))
      return
    }
    if (keys) {
      const key = keyOf(dialect, req, url)
      if (key === null || !keys.has(key)) {
        const status = dialect === 'gemini' ? (key === null ? 403 : 400) : 401
        sendError(res, status, errorResponse(ids, dialect, status, {model, key, badKey: true}))
        return
      }
    }
    if (failure && failure.remaining > 0) {
      failure.remaining -= 1
      const {status} = failure
      const response =
        failure.body === undefined
          ? errorResponse(ids, dialect, status, {model, key: keyOf(dialect, req, url), retryAfter: failure.retryAfter})
          : {
              headers: {
                'content-type': typeof failure.body === 'string' ? 'text/plain' : 'application/json',
                ...(failure.retryAfter !== undefined ? {'retry-after': String(failure.retryAfter)} : {}),
              },
              body: typeof failure.body === 'string' ? failure.body : JSON.stringify(failure.body),
            }
      sendError(res, status, response)
      return
    }
    if (recording) {
      res.writeHead(recording.status ?? 200, recording.headers ?? {'content-type': 'text/event-stream'})
      res.end(recording.body)
      return
    }
    if (dialect === 'gemini' && url.searchParams.get('alt') !== 'sse') {
      sendError(res, 400, {headers: {'content-type': 'application/json; charset=UTF-8'}, body: JSON.stringify({error: {code: 400, message: 'fake provider: only alt=sse is served', status: 'INVALID_ARGUMENT'}}, null, 2) + '\n'})
      return
    }
    const turn = readTurn(dialect, model, body)
    const refused = historyError(dialect, model, body)
    if (refused) {
      sendError(res, 400, invalidRequest(ids, dialect, refused))
      return
    }
    const reply = plan(turn)
    const p = dialect === 'openai' ? openaiPlan(ids, body, reply) : dialect === 'anthropic' ? anthropicPlan(ids, body, reply) : geminiPlan(ids, model, reply)
    await stream(res, p, reply.delayMs)
  }

  const api: FakeProvider = {
    port: 0,
    urls: {openai: '', anthropic: '', gemini: ''},
    requests,
    reply(reply) {
      replySpec = typeof reply === 'object' ? {...reply} : reply
    },
    script(...answers) {
      queue.push(...answers)
    },
    get scriptLeft() {
      return queue.length
    },
    fail(f) {
      failure = {...f, remaining: f.times ?? Number.POSITIVE_INFINITY}
    },
    cutAfter(n, opts = {}) {
      cut = {n, graceful: opts.graceful === true}
    },
    streamError(n, opts = {}) {
      midError = {n, status: opts.status ?? 500}
    },
    replay(r) {
      recording = {...r}
    },
    hang() {
      hanging = true
    },
    slow(ms) {
      slowMs = ms
    },
    reset() {
      replySpec = null
      queue.length = 0
      failure = null
      cut = null
      midError = null
      hanging = false
      slowMs = 0
      recording = null
      requests.length = 0
      closed.length = 0
    },
    whenClosed(index) {
      const p = closed[index]
      if (!p) return Promise.reject(new Error(`fake provider: no request #${index}`))
      return p
    },
    close: () => Promise.resolve(),
  }

  const control = async (req: IncomingMessage, res: ServerResponse, path: string, raw: string): Promise<void> => {
    if (req.method === 'GET' && path === '/__fake/requests') {
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(JSON.stringify(requests))
      return
    }
    if (req.method === 'POST' && path === '/__fake/control') {
      const {action, args = []} = JSON.parse(raw || '{}') as {action: string; args?: unknown[]}
      const allowed = ['reply', 'script', 'fail', 'cutAfter', 'streamError', 'replay', 'hang', 'slow', 'reset'] as const
      if (!(allowed as readonly string[]).includes(action)) {
        res.writeHead(400, {'content-type': 'application/json'})
        res.end(JSON.stringify({error: `unknown action ${action}`}))
        return
      }
      ;(api[action as (typeof allowed)[number]] as (...a: unknown[]) => void)(...args)
      res.writeHead(204)
      res.end()
      return
    }
    res.writeHead(404)
    res.end()
  }

  const server = http.createServer((req, res) => {
    live.add(res)
    res.on('close', () => live.delete(res))
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake.local')
      const raw = await readBody(req)
      if (url.pathname.startsWith('/__fake/')) {
        await control(req, res, url.pathname, raw)
        return
      }
      const gemini = /^\/v1beta\/models\/([^/]+?):streamGenerateContent$/.exec(url.pathname)
      let dialect: FakeDialect | null = null
      let model = ''
      if (req.method === 'POST' && url.pathname === '/v1/chat/completions') dialect = 'openai'
      else if (req.method === 'POST' && url.pathname === '/v1/messages') dialect = 'anthropic'
      else if (req.method === 'POST' && gemini) {
        dialect = 'gemini'
        model = decodeURIComponent(gemini[1])
      }
      let parsed: unknown
      try {
        parsed = JSON.parse(raw)
      } catch {
        parsed = undefined
      }
      if (dialect !== 'gemini' && parsed && typeof parsed === 'object') model = String((parsed as Json).model ?? '')
      const record: FakeRequest = {method: req.method ?? '', path: req.url ?? '', dialect, headers: req.headers, body: parsed}
      if (dialect && parsed && typeof parsed === 'object' && !Array.isArray(parsed)) record.turn = readTurn(dialect, model, parsed as Json)
      requests.push(record)
      closed.push(
        new Promise((resolve) => {
          res.on('close', () => resolve({early: !res.writableFinished}))
        }),
      )
      if (!dialect) {
        const body = JSON.stringify(
          {error: {message: `Unknown request URL: ${req.method} ${url.pathname}. Please check the URL for typos.`, type: 'invalid_request_error', param: null, code: 'unknown_url'}},
          null,
          4,
        )
        res.writeHead(404, {'content-type': 'application/json; charset=utf-8'})
        res.end(body + '\n')
        return
      }
      await handleProvider(dialect, req, res, url, raw, model)
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, {'content-type': 'text/plain'})
      res.end(`fake provider failure: ${String(err)}`)
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const origin = `http://${host}:${port}`
  Object.assign(api, {
    port,
    urls: {openai: `${origin}/v1`, anthropic: origin, gemini: `${origin}/v1beta`},
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of live) res.socket?.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  })
  return api
}

// ---------- standalone ----------

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name)
  if (i >= 0) return argv[i + 1]
  const prefixed = argv.find((a) => a.startsWith(`${name}=`))
  return prefixed?.slice(name.length + 1)
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
if (isMain) {
  const argv = process.argv.slice(2)
  const port = Number(argValue(argv, '--port') ?? 0)
  const keys = argValue(argv, '--keys')
  const fake = await startFakeProvider({port, host: argValue(argv, '--host'), keys: keys ? keys.split(',') : undefined})
  process.stdout.write(JSON.stringify({port: fake.port, ...fake.urls}) + '\n')
  const stop = (): void => {
    setTimeout(() => process.exit(0), 1000).unref()
    void fake.close().then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

/**
 * The Gemini dialect (Google AI `generativelanguage` API).
 *
 * Request: POST {base}/models/{model}:streamGenerateContent?alt=sse, `x-goog-api-key`,
 * `systemInstruction` separate, `contents[]` with roles `user` / `model`.
 * Stream: `data: {GenerateContentResponse}` frames, CRLF-separated, no `[DONE]`: text in
 * `candidates[0].content.parts[].text` (parts with `thought: true` are reasoning, not answer),
 * whole `functionCall` parts, `usageMetadata` (cumulative) on every chunk, `finishReason` on
 * the last candidate chunk. The stream simply ends after that.
 * Errors are Google RPC bodies: `{"error": {code, message, status, details[]}}`; a bad key is
 * 400 INVALID_ARGUMENT with reason API_KEY_INVALID, rate limits carry RetryInfo.retryDelay.
 */
import type {EventSourceMessage} from 'eventsource-parser'
import {extractMessage, num, parseChunk, parseJson, streamError, unexpectedEnd} from './errors.js'
import {argumentsObject, geminiParameters, newCallId} from './tool-wire.js'
import type {ChatMessage, DialectAdapter, ErrorInfo, HttpRequestSpec, ProviderEvent, ProviderTarget, StreamDecoder, TurnInput, Usage} from './types.js'

/**
 * Gemini's documented stand-in for a thought signature, for function calls it did not sign
 * (a history from another provider, or from before signatures were kept): Gemini 3 refuses a
 * function call turn whose first call has no signature.
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator'

type Part = Record<string, unknown>

/**
 * The history as Gemini contents: an assistant message as a `model` turn with its text and
 * `functionCall` parts (args as an object: `{}` for malformed arguments; the first call with its
 * thought signature), its results as one `user` turn of `functionResponse` parts (`{output}`, or
 * `{error}` for a failed call), consecutive turns of one role merged, empty text left out.
 * Calls carry no ids: Gemini pairs responses with calls by order and name.
 */
export function geminiContents(messages: readonly ChatMessage[]): {role: 'user' | 'model'; parts: Part[]}[] {
  const out: {role: 'user' | 'model'; parts: Part[]}[] = []
  const push = (role: 'user' | 'model', parts: Part[]): void => {
    if (parts.length === 0) return
    const last = out.at(-1)
    if (last && last.role === role) last.parts.push(...parts)
    else out.push({role, parts})
  }
  for (const m of messages) {
    if (m.role === 'user') push('user', m.content === '' ? [] : [{text: m.content}])
    else if (m.role === 'tool') {
      push('user', [{functionResponse: {name: m.name, response: m.isError ? {error: m.content} : {output: m.content}}}])
    } else {
      const calls = (m.toolCalls ?? []).map((c, i) => {
        const signature = c.signature ?? (i === 0 ? SKIP_SIGNATURE : undefined)
        return {functionCall: {name: c.name, args: argumentsObject(c.arguments) ?? {}}, ...(signature ? {thoughtSignature: signature} : {})}
      })
      push('model', [...(m.content === '' ? [] : [{text: m.content}]), ...calls])
    }
  }
  return out
}

function buildRequest(input: TurnInput): HttpRequestSpec {
  const {target} = input
  const body: Record<string, unknown> = {
    contents: geminiContents(input.messages),
  }
  if (input.system) body.systemInstruction = {parts: [{text: input.system}]}
  if (input.tools && input.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: input.tools.map((t) => {
          const parameters = geminiParameters(t.parameters)
          return {name: t.name, ...(t.description ? {description: t.description} : {}), ...(parameters ? {parameters} : {})}
        }),
      },
    ]
  }
  if (input.maxOutputTokens !== undefined) body.generationConfig = {maxOutputTokens: input.maxOutputTokens}
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
  }
  if (target.apiKey) headers['x-goog-api-key'] = target.apiKey
  return {url: `${target.baseUrl}/models/${target.model}:streamGenerateContent?alt=sse`, headers, body: JSON.stringify(body)}
}

/** "17s", "0.5s" (protobuf Duration as JSON) → milliseconds. */
function durationMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value.trim())
  return match ? Math.round(Number(match[1]) * 1000) : undefined
}

function parseError(_status: number, bodyText: string): ErrorInfo {
  const parsed = parseJson(bodyText)
  if (parsed === undefined) return {message: bodyText.trim() || undefined}
  const root = (Array.isArray(parsed) ? parsed[0] : parsed) as Record<string, unknown> | undefined
  const error = (root?.error ?? {}) as Record<string, unknown>
  const details = Array.isArray(error.details) ? (error.details as Record<string, unknown>[]) : []
  const info: ErrorInfo = {message: extractMessage(root)}
  for (const d of details) {
    if (d?.reason === 'API_KEY_INVALID' || d?.reason === 'API_KEY_EXPIRED') info.auth = true
    const delay = durationMs(d?.retryDelay)
    if (delay !== undefined) info.retryAfterMs = delay
  }
  return info
}

const FINISH: Record<string, string> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
}

class GeminiDecoder implements StreamDecoder {
  complete = false
  private finishReason: string | undefined
  private usage: Usage = {inputTokens: 0, outputTokens: 0}
  private calls = 0

  constructor(private readonly target: ProviderTarget) {}

  push(event: EventSourceMessage): ProviderEvent[] {
    if (this.complete || event.data.trim() === '') return []
    const chunk = parseChunk(this.target, event.data)
    if (chunk.error !== undefined && chunk.error !== null) {
      const error = chunk.error as Record<string, unknown>
      throw streamError(this.target, typeof error.code === 'number' ? error.code : 500, extractMessage(error))
    }
    this.readUsage(chunk.usageMetadata)
    const out: ProviderEvent[] = []
    const candidates = Array.isArray(chunk.candidates) ? (chunk.candidates as Record<string, unknown>[]) : []
    const candidate = candidates[0]
    if (candidate) {
      const content = (candidate.content ?? {}) as Record<string, unknown>
      const parts = Array.isArray(content.parts) ? (content.parts as Record<string, unknown>[]) : []
      for (const part of parts) {
        if (typeof part.text === 'string' && part.text && part.thought !== true) out.push({type: 'delta', text: part.text})
        const call = part.functionCall as Record<string, unknown> | undefined
        if (call && typeof call === 'object') {
          const callId = typeof call.id === 'string' && call.id ? call.id : newCallId()
          this.calls += 1
          const signature = typeof part.thoughtSignature === 'string' && part.thoughtSignature ? part.thoughtSignature : undefined
          out.push({type: 'tool_call', callId, name: String(call.name ?? ''), arguments: JSON.stringify(call.args ?? {}), ...(signature ? {signature} : {})})
        }
      }
      if (typeof candidate.finishReason === 'string' && candidate.finishReason) this.finishReason = candidate.finishReason
    }
    const feedback = chunk.promptFeedback as Record<string, unknown> | undefined
    if (!candidate && feedback && typeof feedback.blockReason === 'string') this.finishReason = 'SAFETY'
    return out
  }

  end(): ProviderEvent[] {
    if (this.complete) return []
    if (this.finishReason === undefined) throw unexpectedEnd(this.target)
    this.complete = true
    let reason = FINISH[this.finishReason] ?? this.finishReason.toLowerCase()
    if (reason === 'stop' && this.calls > 0) reason = 'tool_calls'
    return [{type: 'done', finishReason: reason, usage: {...this.usage}}]
  }

  private readUsage(raw: unknown): void {
    if (!raw || typeof raw !== 'object') return
    const usage = raw as Record<string, unknown>
    // Thinking tokens are billed as output.
    this.usage = {inputTokens: num(usage.promptTokenCount), outputTokens: num(usage.candidatesTokenCount) + num(usage.thoughtsTokenCount)}
  }
}

export const geminiDialect: DialectAdapter = {
  buildRequest,
  parseError,
  createDecoder: (target) => new GeminiDecoder(target),
}

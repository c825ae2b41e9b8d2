/**
 * The OpenAI chat-completions dialect (OpenAI, OpenRouter, Groq, Mistral, DeepSeek, Z.ai,
 * Ollama and any OpenAI-compatible server).
 *
 * Request: POST {base}/chat/completions, `Authorization: Bearer`, `stream: true`,
 * `stream_options: {include_usage: true}`, the system prompt as the first message.
 * Stream: `data: {chat.completion.chunk}` frames; text in `choices[0].delta.content`, tool
 * calls as `delta.tool_calls[]` fragments keyed by `index` (id and name in the first fragment,
 * `function.arguments` in pieces), `finish_reason` on the last choice chunk, then one chunk with
 * `choices: []` and `usage`, then `data: [DONE]`. An `{"error": …}` chunk is an in-stream error.
 */
import type {EventSourceMessage} from 'eventsource-parser'
import {extractMessage, num, parseChunk, parseJson, streamError, unexpectedEnd} from './errors.js'
import {ChunkTemplate} from './openai-template.js'
import {argumentsObject, newCallId} from './tool-wire.js'
import type {DialectAdapter, ErrorInfo, HttpRequestSpec, ProviderEvent, ProviderTarget, StreamDecoder, TurnInput, Usage} from './types.js'

function buildRequest(input: TurnInput): HttpRequestSpec {
  const {target} = input
  const messages: Record<string, unknown>[] = []
  if (input.system) messages.push({role: 'system', content: input.system})
  for (const m of input.messages) {
    // No error flag in this dialect: a failed call's result says so in its text.
    if (m.role === 'tool') messages.push({role: 'tool', tool_call_id: m.callId, content: m.isError ? `Error: ${m.content}` : m.content})
    else if (m.role === 'assistant' && m.toolCalls && m.toolCalls.length > 0) {
      messages.push({
        role: 'assistant',
        content: m.content === '' ? null : m.content,
        tool_calls: m.toolCalls.map((c) => ({
          id: c.callId,
          type: 'function',
          // Malformed arguments go back as `{}`: compatible servers (Ollama, vLLM) parse them.
          function: {name: c.name, arguments: argumentsObject(c.arguments) ? c.arguments : '{}'},
        })),
      })
    } else messages.push({role: m.role, content: m.content})
  }
  const body: Record<string, unknown> = {
    model: target.model,
    messages,
    stream: true,
    stream_options: {include_usage: true},
  }
  if (input.maxOutputTokens !== undefined) {
    // OpenAI's newer models refuse max_tokens; compatible servers mostly only know max_tokens.
    body[target.id === 'openai' ? 'max_completion_tokens' : 'max_tokens'] = input.maxOutputTokens
  }
  if (input.tools && input.tools.length > 0) {
    body.tools = input.tools.map((t) => ({
      type: 'function',
      function: {name: t.name, ...(t.description ? {description: t.description} : {}), parameters: t.parameters},
    }))
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
  }
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`
  return {url: `${target.baseUrl}/chat/completions`, headers, body: JSON.stringify(body)}
}

function parseError(_status: number, bodyText: string): ErrorInfo {
  const body = parseJson(bodyText)
  return {message: body === undefined ? bodyText.trim() || undefined : extractMessage(body)}
}

const FINISH: Record<string, string> = {function_call: 'tool_calls'}

/** The status an in-stream `{"error": …}` stands for: a numeric code (OpenRouter), else its type. */
function inStreamStatus(raw: unknown): number | undefined {
  if (!raw || typeof raw !== 'object') return undefined
  const error = raw as Record<string, unknown>
  for (const value of [error.code, error.status]) {
    if (typeof value === 'number') return value
    if (typeof value === 'string' && /^\d{3}$/.test(value)) return Number(value)
  }
  if (error.type === 'server_error') return 500
  if (error.code === 'rate_limit_exceeded' || error.type === 'requests' || error.type === 'tokens') return 429
  return undefined
}

/** Templates made per response at most (each costs a parse); one is enough for a normal stream. */
const MAX_TEMPLATE_TRIES = 3

/**
 * Whether a parsed chunk decodes to exactly one text delta `content` and changes nothing else
 * in the decoder (no error, usage, tool call or finish reason), with `obfuscation` = `pad`.
 */
function isPlainDelta(parsed: unknown, content: string, pad: string | undefined): boolean {
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return false
  const chunk = parsed as Record<string, unknown>
  if (chunk.error !== undefined && chunk.error !== null) return false
  if (chunk.usage && typeof chunk.usage === 'object') return false
  if (chunk.x_groq && typeof chunk.x_groq === 'object') return false
  if (pad !== undefined && chunk.obfuscation !== pad) return false
  const choices = Array.isArray(chunk.choices) ? chunk.choices : []
  const choice = choices.find((c) => num((c as Record<string, unknown>)?.index) === 0) as Record<string, unknown> | undefined
  if (!choice) return false
  const delta = (choice.delta ?? {}) as Record<string, unknown>
  if (delta.content !== content || Array.isArray(delta.tool_calls)) return false
  const finish = choice.finish_reason
  return !(typeof finish === 'string' && finish)
}

interface PartialCall {
  index: number
  id: string
  name: string
  args: string
}

class OpenAIDecoder implements StreamDecoder {
  complete = false
  private finishReason: string | undefined
  private usage: Usage = {inputTokens: 0, outputTokens: 0}
  private calls = new Map<number, PartialCall>()
  private callsFlushed = false

  constructor(private readonly target: ProviderTarget) {}

  push(event: EventSourceMessage): ProviderEvent[] {
    if (this.complete) return []
    const data = event.data.trim()
    if (data === '[DONE]') return this.finish()
    if (data === '') return []
    // Most chunks: the previous one with another text (see openai-template.ts).
    const text = this.template?.match(data)
    if (text !== undefined) return text === '' ? [] : [{type: 'delta', text}]
    const out = this.decode(data)
    if (out.length === 1 && out[0]!.type === 'delta' && this.templateTries < MAX_TEMPLATE_TRIES) {
      this.templateTries++
      this.template = ChunkTemplate.from(data, isPlainDelta) ?? this.template
    }
    return out
  }

  private template: ChunkTemplate | undefined
  private templateTries = 0

  private decode(data: string): ProviderEvent[] {
    const chunk = parseChunk(this.target, data)
    if (chunk.error !== undefined && chunk.error !== null) {
      throw streamError(this.target, inStreamStatus(chunk.error), extractMessage(chunk.error))
    }
    const out: ProviderEvent[] = []
    this.readUsage(chunk.usage)
    const xGroq = chunk.x_groq as Record<string, unknown> | undefined
    if (xGroq && typeof xGroq === 'object') this.readUsage(xGroq.usage)
    const choices = Array.isArray(chunk.choices) ? chunk.choices : []
    const choice = choices.find((c) => num((c as Record<string, unknown>)?.index) === 0) as Record<string, unknown> | undefined
    if (!choice) return out
    const delta = (choice.delta ?? {}) as Record<string, unknown>
    if (typeof delta.content === 'string' && delta.content.length > 0) out.push({type: 'delta', text: delta.content})
    if (Array.isArray(delta.tool_calls)) {
      for (const raw of delta.tool_calls as Record<string, unknown>[]) this.mergeToolCall(raw)
    }
    const finish = choice.finish_reason
    if (typeof finish === 'string' && finish) {
      this.finishReason = FINISH[finish] ?? finish.toLowerCase()
      out.push(...this.flushToolCalls())
    }
    return out
  }

  end(): ProviderEvent[] {
    if (this.complete) return []
    // Some compatible servers close the stream after the finish chunk without `[DONE]`.
    if (this.finishReason !== undefined) return this.finish()
    throw unexpectedEnd(this.target)
  }

  private finish(): ProviderEvent[] {
    const out = this.flushToolCalls()
    this.complete = true
    // Some compatible servers end a response with calls with `stop`: it is still a tool round.
    let finishReason = this.finishReason ?? 'stop'
    if (finishReason === 'stop' && this.calls.size > 0) finishReason = 'tool_calls'
    out.push({type: 'done', finishReason, usage: {...this.usage}})
    return out
  }

  private readUsage(raw: unknown): void {
    if (!raw || typeof raw !== 'object') return
    const usage = raw as Record<string, unknown>
    this.usage = {inputTokens: num(usage.prompt_tokens), outputTokens: num(usage.completion_tokens)}
  }

  private mergeToolCall(raw: Record<string, unknown>): void {
    // Some compatible servers leave out `index`: a fragment with a new id starts a call, any
    // other continues the last one.
    let index = typeof raw.index === 'number' ? raw.index : undefined
    if (index === undefined) {
      const last = [...this.calls.values()].at(-1)
      index = last && (typeof raw.id !== 'string' || !raw.id || raw.id === last.id) ? last.index : this.calls.size
    }
    let call = this.calls.get(index)
    if (!call) {
      call = {index, id: '', name: '', args: ''}
      this.calls.set(index, call)
    }
    if (typeof raw.id === 'string' && raw.id) call.id = raw.id
    const fn = (raw.function ?? {}) as Record<string, unknown>
    if (typeof fn.name === 'string' && fn.name) call.name += fn.name
    if (typeof fn.arguments === 'string') call.args += fn.arguments
  }

  private flushToolCalls(): ProviderEvent[] {
    if (this.callsFlushed || this.calls.size === 0) return []
    this.callsFlushed = true
    return [...this.calls.values()]
      .sort((a, b) => a.index - b.index)
      .map((c) => ({type: 'tool_call' as const, callId: c.id || newCallId(), name: c.name, arguments: c.args || '{}'}))
  }
}

export const openaiDialect: DialectAdapter = {
  buildRequest,
  parseError,
  createDecoder: (target) => new OpenAIDecoder(target),
}

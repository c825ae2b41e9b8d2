/**
 * The Anthropic Messages dialect.
 *
 * Request: POST {base}/v1/messages, `x-api-key`, `anthropic-version: 2023-06-01`, `system`
 * as a top-level field, `max_tokens` (required), `stream: true`.
 * Stream: named SSE events, each with a JSON `data` whose `type` repeats the name:
 * `message_start` (message with usage.input_tokens), per content block `content_block_start`
 * / `content_block_delta` (`text_delta` text, `input_json_delta` partial_json of a tool_use
 * block) / `content_block_stop`, `message_delta` (stop_reason, cumulative usage.output_tokens),
 * `message_stop` (terminal), any number of `ping`, and `error` (e.g. overloaded_error).
 */
import type {EventSourceMessage} from 'eventsource-parser'
import {extractMessage, num, parseChunk, parseJson, streamError, unexpectedEnd} from './errors.js'
import {argumentsObject} from './tool-wire.js'
import type {ChatMessage, DialectAdapter, ErrorInfo, HttpRequestSpec, ProviderEvent, ProviderTarget, StreamDecoder, TurnInput, Usage} from './types.js'

export const ANTHROPIC_VERSION = '2023-06-01'
/** `max_tokens` is required by the API; used when the turn does not set maxOutputTokens. */
export const DEFAULT_MAX_TOKENS = 8192

type Block = Record<string, unknown>

/**
 * The history as Anthropic messages: an assistant message's text and `tool_use` blocks (input
 * as an object: `{}` for malformed arguments), the results that follow it as `tool_result`
 * blocks of ONE user message (before any text of the user's next message, as the API requires),
 * consecutive messages of one role merged so the roles alternate, and whitespace-only text
 * blocks left out (refused). A message that is a single text stays a plain string.
 */
export function anthropicMessages(messages: readonly ChatMessage[]): {role: 'user' | 'assistant'; content: string | Block[]}[] {
  const out: {role: 'user' | 'assistant'; blocks: Block[]}[] = []
  const push = (role: 'user' | 'assistant', blocks: Block[]): void => {
    if (blocks.length === 0) return
    const last = out.at(-1)
    if (last && last.role === role) last.blocks.push(...blocks)
    else out.push({role, blocks})
  }
  const text = (t: string): Block[] => (t.trim() === '' ? [] : [{type: 'text', text: t}])
  for (const m of messages) {
    if (m.role === 'user') push('user', text(m.content))
    else if (m.role === 'tool') {
      const block: Block = {type: 'tool_result', tool_use_id: m.callId}
      if (m.content !== '') block.content = m.content
      if (m.isError) block.is_error = true
      push('user', [block])
    } else {
      const calls = (m.toolCalls ?? []).map((c) => ({type: 'tool_use', id: c.callId, name: c.name, input: argumentsObject(c.arguments) ?? {}}))
      push('assistant', [...text(m.content), ...calls])
    }
  }
  return out.map(({role, blocks}) => {
    if (blocks.length === 1 && blocks[0].type === 'text') return {role, content: blocks[0].text as string}
    // tool_result blocks first in a user message.
    if (role === 'user') blocks.sort((a, b) => Number(b.type === 'tool_result') - Number(a.type === 'tool_result'))
    return {role, content: blocks}
  })
}

function buildRequest(input: TurnInput): HttpRequestSpec {
  const {target} = input
  const body: Record<string, unknown> = {
    model: target.model,
    max_tokens: input.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
  }
  if (input.system) body.system = input.system
  body.messages = anthropicMessages(input.messages)
  const tools: Record<string, unknown>[] = (input.tools ?? []).map((t) => ({
    name: t.name,
    ...(t.description ? {description: t.description} : {}),
    input_schema: t.parameters,
  }))
  // A request whose history has tool_use blocks must define those tools, even when they are no
  // longer offered (a server removed or failing, tools off): they are declared as unavailable,
  // and with nothing offered at all the model may not call any.
  const offered = new Set(tools.map((t) => t.name))
  for (const m of input.messages) {
    if (m.role !== 'assistant') continue
    for (const call of m.toolCalls ?? []) {
      if (offered.has(call.name)) continue
      offered.add(call.name)
      tools.push({name: call.name, description: 'No longer available: do not call.', input_schema: {type: 'object', properties: {}}})
    }
  }
  if (tools.length > 0) body.tools = tools
  if (tools.length > 0 && !(input.tools && input.tools.length > 0)) body.tool_choice = {type: 'none'}
  body.stream = true
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'anthropic-version': ANTHROPIC_VERSION,
  }
  if (target.apiKey) headers['x-api-key'] = target.apiKey
  return {url: `${target.baseUrl}/v1/messages`, headers, body: JSON.stringify(body)}
}

function parseError(_status: number, bodyText: string): ErrorInfo {
  const body = parseJson(bodyText)
  return {message: body === undefined ? bodyText.trim() || undefined : extractMessage(body)}
}

/** The HTTP status an error `type` corresponds to (for in-stream errors, which arrive with 200). */
const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
}

const STOP_REASON: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
}

interface ToolBlock {
  id: string
  name: string
  json: string
  initial: unknown
}

class AnthropicDecoder implements StreamDecoder {
  complete = false
  private started = false
  private stopReason: string | undefined
  private usage: Usage = {inputTokens: 0, outputTokens: 0}
  private tools = new Map<number, ToolBlock>()
  private calls = 0

  constructor(private readonly target: ProviderTarget) {}

  push(event: EventSourceMessage): ProviderEvent[] {
    if (this.complete) return []
    const data = parseChunk(this.target, event.data)
    const type = typeof data.type === 'string' ? data.type : event.event
    switch (type) {
      case 'message_start': {
        this.started = true
        const message = (data.message ?? {}) as Record<string, unknown>
        this.readUsage(message.usage)
        return []
      }
      case 'content_block_start': {
        const block = (data.content_block ?? {}) as Record<string, unknown>
        if (block.type === 'tool_use') {
          this.tools.set(num(data.index), {id: String(block.id ?? ''), name: String(block.name ?? ''), json: '', initial: block.input})
        } else if (block.type === 'text' && typeof block.text === 'string' && block.text) {
          return [{type: 'delta', text: block.text}]
        }
        return []
      }
      case 'content_block_delta': {
        const delta = (data.delta ?? {}) as Record<string, unknown>
        if (delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text) return [{type: 'delta', text: delta.text}]
        if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
          const tool = this.tools.get(num(data.index))
          if (tool) tool.json += delta.partial_json
        }
        return [] // thinking_delta, signature_delta, citations_delta: not part of the answer text
      }
      case 'content_block_stop': {
        const index = num(data.index)
        const tool = this.tools.get(index)
        if (!tool) return []
        this.tools.delete(index)
        this.calls += 1
        const args = tool.json || (tool.initial && typeof tool.initial === 'object' ? JSON.stringify(tool.initial) : '{}')
        return [{type: 'tool_call', callId: tool.id, name: tool.name, arguments: args}]
      }
      case 'message_delta': {
        const delta = (data.delta ?? {}) as Record<string, unknown>
        if (typeof delta.stop_reason === 'string') this.stopReason = delta.stop_reason
        this.readUsage(data.usage)
        return []
      }
      case 'message_stop': {
        this.complete = true
        let reason = this.stopReason === undefined ? 'stop' : (STOP_REASON[this.stopReason] ?? this.stopReason.toLowerCase())
        if (reason === 'stop' && this.calls > 0) reason = 'tool_calls'
        return [{type: 'done', finishReason: reason, usage: {...this.usage}}]
      }
      case 'error': {
        const error = (data.error ?? {}) as Record<string, unknown>
        const status = typeof error.type === 'string' ? ERROR_STATUS[error.type] : undefined
        throw streamError(this.target, status ?? 500, extractMessage(error) ?? (typeof error.type === 'string' ? error.type : undefined))
      }
      default:
        return [] // ping, and event types added in future API versions
    }
  }

  end(): ProviderEvent[] {
    if (this.complete) return []
    throw unexpectedEnd(this.target, this.started ? undefined : 'no message_start')
  }

  /** message_start carries input_tokens; message_delta carries the cumulative output_tokens (and, lately, input_tokens too). */
  private readUsage(raw: unknown): void {
    if (!raw || typeof raw !== 'object') return
    const usage = raw as Record<string, unknown>
    if (typeof usage.input_tokens === 'number') {
      this.usage.inputTokens = usage.input_tokens + num(usage.cache_creation_input_tokens) + num(usage.cache_read_input_tokens)
    }
    if (typeof usage.output_tokens === 'number') this.usage.outputTokens = usage.output_tokens
  }
}

export const anthropicDialect: DialectAdapter = {
  buildRequest,
  parseError,
  createDecoder: (target) => new AnthropicDecoder(target),
}

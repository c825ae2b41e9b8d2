/**
 * The OpenAI chat-completions wire shapes this endpoint speaks: requests in, chunks, completions
 * and errors out.
 */
import {z} from 'zod'

import type {ChatMessage, Usage} from '../providers/index.js'

const contentPart = z.object({type: z.string(), text: z.string().optional()}).passthrough()

export const chatRequestSchema = z
  .object({
    model: z.string().min(1, 'is required').max(256),
    messages: z
      .array(
        z
          .object({
            role: z.string().min(1),
            content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
          })
          .passthrough(),
      )
      .min(1, 'must hold at least one message')
      .max(10_000),
    stream: z.boolean().nullish(),
    stream_options: z.object({include_usage: z.boolean().optional()}).passthrough().nullish(),
  })
  .passthrough()

export type ChatRequest = z.infer<typeof chatRequestSchema>

export interface OpenAIErrorBody {
  error: {message: string; type: string; param: string | null; code: string | null}
}

export function openaiError(message: string, type: string, code: string | null, param: string | null = null): OpenAIErrorBody {
  return {error: {message, type, param, code}}
}

/** OpenAI's error type for an HTTP status. */
export function openaiErrorType(status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 403) return 'permission_error'
  if (status === 429) return 'rate_limit_error'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

/** True for a body already in OpenAI's error shape. */
export function isOpenAIErrorBody(body: unknown): body is OpenAIErrorBody {
  const error = (body as {error?: unknown} | null)?.error as Record<string, unknown> | undefined
  return typeof error === 'object' && error !== null && typeof error.message === 'string' && typeof error.type === 'string' && 'param' in error && 'code' in error
}

/**
 * A gateway error body (`{error: {code, message, hint?}}`, from the auth, guards, size limit,
 * an unknown route or a failure) in OpenAI's shape: the message (with the hint in parentheses),
 * the type of the status, Lobu's code in lower case, no param.
 */
export function toOpenAIError(status: number, body: unknown): OpenAIErrorBody {
  if (isOpenAIErrorBody(body)) return body
  const error = ((body as {error?: unknown} | null)?.error ?? {}) as {code?: unknown; message?: unknown; hint?: unknown}
  const message = typeof error.message === 'string' && error.message ? error.message : `request failed with status ${status}`
  const hint = typeof error.hint === 'string' && error.hint ? ` (${error.hint})` : ''
  const code = typeof error.code === 'string' && error.code ? error.code.toLowerCase() : null
  return openaiError(message + hint, openaiErrorType(status), code)
}

/** A zod issue path as OpenAI names a parameter: `messages[0].content`. */
export function paramOf(path: readonly (string | number)[]): string | null {
  if (path.length === 0) return null
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('')
}

export interface UnsupportedParameter {
  param: string
  message: string
  code: 'unsupported_parameter' | 'unsupported_value'
}

/**
 * The first request parameter Lobu cannot honour, if any: the answer would silently differ from
 * what the client asked for, so the request is refused (400 naming it) instead.
 *
 * - one choice per request (`n` > 1), no log probabilities, no audio or predicted output;
 * - a reply in the agent's own format (`response_format` other than text);
 * - the agent's model settings decide the length and stop sequences (`max_tokens`,
 *   `max_completion_tokens`, `stop`).
 *
 * Sampling hints (`temperature`, `top_p`, penalties, `seed`, `logit_bias`, `reasoning_effort`)
 * and bookkeeping fields (`user`, `metadata`, `store`, `service_tier`) are accepted and do not
 * change the turn: the agent's model and provider settings apply. Tools are handled by the route.
 */
export function unsupportedParameter(body: Record<string, unknown>): UnsupportedParameter | undefined {
  const set = (name: string) => body[name] !== undefined && body[name] !== null
  const refuse = (param: string, why: string, code: UnsupportedParameter['code'] = 'unsupported_parameter'): UnsupportedParameter => ({
    param,
    message: `\`${param}\` is not supported: ${why}`,
    code,
  })
  if (set('n') && body.n !== 1) return refuse('n', 'a Lobu agent gives one choice per request (n = 1)', 'unsupported_value')
  if (body.logprobs === true) return refuse('logprobs', 'log probabilities are not available through an agent')
  if (set('top_logprobs')) return refuse('top_logprobs', 'log probabilities are not available through an agent')
  if (set('response_format')) {
    const type = (body.response_format as {type?: unknown} | undefined)?.type
    if (type !== 'text') return refuse('response_format', 'an agent answers in text (response_format type "text")', 'unsupported_value')
  }
  if (set('modalities') && !(Array.isArray(body.modalities) && body.modalities.every((m) => m === 'text'))) {
    return refuse('modalities', 'an agent answers in text only', 'unsupported_value')
  }
  if (set('audio')) return refuse('audio', 'an agent answers in text only')
  if (set('prediction')) return refuse('prediction', 'predicted outputs are not available through an agent')
  if (set('web_search_options')) return refuse('web_search_options', "an agent searches only through its own tools (its MCP servers)")
  for (const name of ['max_tokens', 'max_completion_tokens']) {
    if (set(name)) return refuse(name, "the agent's model settings decide the length of a reply")
  }
  if (set('stop') && !(Array.isArray(body.stop) && body.stop.length === 0)) return refuse('stop', "the agent's model settings decide where a reply stops")
  return undefined
}

function textOf(content: ChatRequest['messages'][number]['content']): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) return content.map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('')
  return ''
}

export interface Conversation {
  /** System / developer messages, joined: appended to the agent's own system prompt. */
  system: string
  history: ChatMessage[]
  prompt: string
}

/**
 * The last user message is the prompt; the user and assistant messages before it are the
 * context; system (and developer) messages add to the system prompt. Undefined when there is no
 * user message with text.
 */
export function toConversation(messages: ChatRequest['messages']): Conversation | undefined {
  let last = -1
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user' && textOf(messages[i].content).trim() !== '') {
      last = i
      break
    }
  }
  if (last === -1) return undefined
  const system: string[] = []
  const history: ChatMessage[] = []
  messages.forEach((m, i) => {
    const text = textOf(m.content)
    if (m.role === 'system' || m.role === 'developer') {
      if (text.trim()) system.push(text)
    } else if (i < last && (m.role === 'user' || m.role === 'assistant')) {
      history.push({role: m.role, content: text})
    }
  })
  return {system: system.join('\n\n'), history, prompt: textOf(messages[last].content)}
}

export function usageOf(usage: Usage) {
  return {prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens}
}

/** Lobu's normalised finish reasons are OpenAI's already; anything else becomes `stop`. */
export function finishReasonOf(reason: string): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  return reason === 'length' || reason === 'tool_calls' || reason === 'content_filter' ? reason : 'stop'
}

/** HTTP status and OpenAI error type for a turn error code. */
export function statusOfTurnError(code: string, providerStatus?: number): {status: number; type: string} {
  switch (code) {
    case 'NO_MODEL_CONFIGURED':
      return {status: 400, type: 'invalid_request_error'}
    case 'PROVIDER_AUTH':
      return {status: 502, type: 'upstream_error'}
    case 'PROVIDER_ERROR':
      return providerStatus === 429 ? {status: 429, type: 'rate_limit_error'} : {status: 502, type: 'upstream_error'}
    case 'TIMEOUT':
      return {status: 504, type: 'upstream_error'}
    case 'SHUTDOWN':
      return {status: 503, type: 'server_error'}
    case 'FORBIDDEN':
      return {status: 403, type: 'permission_error'}
    default:
      return {status: 500, type: 'server_error'}
  }
}

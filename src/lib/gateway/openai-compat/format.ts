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

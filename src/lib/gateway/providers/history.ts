/**
 * History trimming: the session's history precedes the new user message and is cut from the
 * oldest end when it would not fit the model's context. Token counts are estimated at about
 * four characters per token (plus a small per-message overhead), which is close enough to
 * stay clear of the limit without shipping a tokenizer.
 */
import type {ChatMessage} from './types.js'

const CHARS_PER_TOKEN = 4
const MESSAGE_OVERHEAD_TOKENS = 4

/** Context windows (tokens) by model-name prefix, most specific first. */
const CONTEXT_WINDOWS: ReadonlyArray<readonly [string, number]> = [
  ['gpt-4.1', 1_047_576],
  ['gpt-5', 400_000],
  ['gpt-4o', 128_000],
  ['gpt-4-turbo', 128_000],
  ['gpt-3.5', 16_385],
  ['o1', 200_000],
  ['o3', 200_000],
  ['o4', 200_000],
  ['claude', 200_000],
  ['gemini', 1_048_576],
  ['llama-3.3', 128_000],
  ['llama3.3', 128_000],
  ['llama-3.1', 128_000],
  ['llama3.2', 128_000],
  ['llama3.1', 128_000],
  ['mistral-large', 128_000],
  ['mistral-small', 128_000],
  ['deepseek', 64_000],
  ['glm-4', 128_000],
]

/** Used for models not in the table. */
export const DEFAULT_CONTEXT_TOKENS = 32_000
/** Kept free for the answer. */
export const OUTPUT_RESERVE_TOKENS = 4_096

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN)
}

function messageTokens(message: ChatMessage): number {
  return estimateTokens(message.content) + MESSAGE_OVERHEAD_TOKENS
}

/** The context window of a model; vendor prefixes (`anthropic/claude-…`, `models/gemini-…`) are ignored. */
export function contextWindow(model: string): number {
  const name = model.toLowerCase().split('/').pop() ?? ''
  const hit = CONTEXT_WINDOWS.find(([prefix]) => name.startsWith(prefix))
  return hit ? hit[1] : DEFAULT_CONTEXT_TOKENS
}

/** Tokens left for the messages of a turn with this model and system prompt. */
export function historyBudget(model: string, system = ''): number {
  return Math.max(0, contextWindow(model) - OUTPUT_RESERVE_TOKENS - estimateTokens(system))
}

/**
 * Drops the oldest messages until the estimate fits `budgetTokens`. The newest user message is
 * always kept (even alone over budget: the provider then reports the real limit). After a cut,
 * the kept history starts with a user message, as Anthropic and Gemini require.
 */
export function trimHistory(messages: ChatMessage[], budgetTokens: number): ChatMessage[] {
  let total = 0
  for (const m of messages) total += messageTokens(m)
  if (total <= budgetTokens) return messages

  let newestUser = -1
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') {
      newestUser = i
      break
    }
  }
  const keep = messages.map(() => true)
  for (let i = 0; i < messages.length && total > budgetTokens; i++) {
    if (i === newestUser) continue
    keep[i] = false
    total -= messageTokens(messages[i])
  }
  const kept = messages.filter((_, i) => keep[i])
  const firstUser = kept.findIndex((m) => m.role === 'user')
  return firstUser > 0 ? kept.slice(firstUser) : kept
}

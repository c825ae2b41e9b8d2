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
  let chars = message.content.length
  if (message.role === 'assistant' && message.toolCalls) {
    for (const call of message.toolCalls) chars += call.name.length + call.arguments.length + (call.signature?.length ?? 0)
  } else if (message.role === 'tool') chars += message.name.length
  return Math.ceil(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS
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
 * A conversation every dialect accepts, whatever the stored history holds:
 *
 * - empty user messages are dropped, and consecutive user messages merged (a message left
 *   unanswered by an error is followed by the next one);
 * - an assistant message with tool calls is followed by exactly one result per call, in call
 *   order; a call without a result (a round cut short by an error or a crash) is dropped, and so
 *   is a result that does not follow its call (an orphan): no provider accepts either;
 * - consecutive assistant messages (e.g. the text of a round whose calls were all dropped, then
 *   the next answer) are merged, so the roles alternate as Anthropic and Gemini require once tool
 *   results count as the user's side;
 * - it starts with a user message (a leading assistant round is dropped with its results).
 *
 * The input is not changed.
 */
export function normalizeConversation(messages: readonly ChatMessage[]): ChatMessage[] {
  const out: ChatMessage[] = []
  let i = 0
  while (i < messages.length) {
    const m = messages[i]
    if (m.role === 'tool') {
      i++ // an orphan: results are taken with their call below
      continue
    }
    if (m.role === 'user') {
      i++
      if (m.content.trim() === '') continue
      const last = out.at(-1)
      if (last?.role === 'user') out[out.length - 1] = {role: 'user', content: `${last.content}\n\n${m.content}`}
      else out.push({role: 'user', content: m.content})
      continue
    }
    // An assistant message and the results right after it.
    let j = i + 1
    const results = new Map<string, Extract<ChatMessage, {role: 'tool'}>>()
    for (; j < messages.length && messages[j].role === 'tool'; j++) {
      const result = messages[j] as Extract<ChatMessage, {role: 'tool'}>
      if (!results.has(result.callId)) results.set(result.callId, result)
    }
    i = j
    const seen = new Set<string>()
    const answered = (m.toolCalls ?? []).filter((call) => {
      if (seen.has(call.callId) || !results.has(call.callId)) return false
      seen.add(call.callId)
      return true
    })
    if (out.length === 0) continue // no leading assistant message
    if (answered.length === 0 && m.content.trim() === '') continue
    const last = out.at(-1)!
    let message: Extract<ChatMessage, {role: 'assistant'}> = {role: 'assistant', content: m.content.trim() === '' ? '' : m.content}
    if (last.role === 'assistant') {
      // Only a text message can be last here (calls are always followed by their results).
      out.pop()
      message = {role: 'assistant', content: [last.content, m.content].filter((t) => t.trim() !== '').join('\n\n')}
    }
    if (answered.length > 0) message.toolCalls = answered.map((call) => ({...call}))
    out.push(message)
    for (const call of answered) {
      const result = results.get(call.callId)!
      out.push({role: 'tool', callId: call.callId, name: result.name || call.name, content: result.content, ...(result.isError ? {isError: true} : {})})
    }
  }
  return out
}

/**
 * The units a history is cut into: a user message alone, or an assistant message with the tool
 * results that follow it (a round). Cutting whole units never separates a call from its result.
 */
function units(messages: readonly ChatMessage[]): ChatMessage[][] {
  const out: ChatMessage[][] = []
  for (const m of messages) {
    const last = out.at(-1)
    if (m.role === 'tool' && last && last[0].role !== 'user') last.push(m)
    else out.push([m])
  }
  return out
}

/**
 * Drops the oldest messages until the estimate fits `budgetTokens`, whole rounds at a time (an
 * assistant message with tool calls goes with its results). The newest user message is always
 * kept (even alone over budget: the provider then reports the real limit), and after a cut the
 * kept history starts with a user message, as Anthropic and Gemini require. When what follows
 * the newest user message (the rounds of the turn in progress) is still too much, its oldest
 * rounds go too, never the latest one: the model needs the results it asked for last.
 */
export function trimHistory(messages: ChatMessage[], budgetTokens: number): ChatMessage[] {
  let total = 0
  for (const m of messages) total += messageTokens(m)
  if (total <= budgetTokens) return messages

  const groups = units(messages)
  const cost = groups.map((g) => g.reduce((n, m) => n + messageTokens(m), 0))
  const keep = groups.map(() => true)
  let newestUser = -1
  for (let u = groups.length - 1; u >= 0; u--) {
    if (groups[u][0].role === 'user') {
      newestUser = u
      break
    }
  }
  const drop = (u: number): void => {
    keep[u] = false
    total -= cost[u]
  }
  let u = 0
  for (; u < newestUser && total > budgetTokens; u++) drop(u)
  if (u > 0) for (; u < newestUser && groups[u][0].role !== 'user'; u++) drop(u)
  for (let v = newestUser + 1; v < groups.length - 1 && total > budgetTokens; v++) drop(v)
  return groups.filter((_, g) => keep[g]).flat()
}

/**
 * What the model sees: the system prompt from the agent's files and the conversation.
 */
import type {ChatMessage} from '../providers/index.js'
import type {AgentSpec} from '../store/types.js'

/** IDENTITY.md, SOUL.md, USER.md, then skills/*.md, in that order, separated by blank lines. */
export function systemPrompt(spec: Pick<AgentSpec, 'files'>): string {
  const files = spec.files ?? {skills: []}
  const parts = [files.identity, files.soul, files.user, ...(files.skills ?? []).map((s) => s.content)]
  return parts
    .map((p) => (p ?? '').trim())
    .filter((p) => p !== '')
    .join('\n\n')
}

/**
 * A conversation every dialect accepts: empty messages dropped, consecutive messages of one role
 * merged (a user message left unanswered by an error is followed by the next one), and no
 * leading assistant message.
 */
export function normalizeConversation(messages: readonly ChatMessage[]): ChatMessage[] {
  const out: ChatMessage[] = []
  for (const m of messages) {
    if (m.content.trim() === '') continue
    const last = out.at(-1)
    if (last && last.role === m.role) last.content = `${last.content}\n\n${m.content}`
    else if (out.length > 0 || m.role === 'user') out.push({role: m.role, content: m.content})
  }
  return out
}

/**
 * What the model sees: the system prompt from the agent's files and the conversation.
 */
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

/** A conversation every dialect accepts: see providers/history.ts. */
export {normalizeConversation} from '../providers/history.js'

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

/** A conversation every dialect accepts: see providers/history.ts. */
export {normalizeConversation} from '../providers/history.js'

/** A message as the history stores it (`tool`: JSON, see the migration `tools`). */
export interface StoredMessage {
  role: 'user' | 'assistant' | 'tool'
  content: string
  tool?: string | null
}

function parseTool(text: string | null | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined
  try {
    const value: unknown = JSON.parse(text)
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Stored history → chat messages (a tool message whose data cannot be read is dropped). */
export function fromStored(rows: readonly StoredMessage[]): ChatMessage[] {
  const out: ChatMessage[] = []
  for (const row of rows) {
    const tool = parseTool(row.tool)
    if (row.role === 'user') out.push({role: 'user', content: row.content})
    else if (row.role === 'assistant') {
      const calls = Array.isArray(tool?.calls) ? (tool.calls as {callId?: unknown; name?: unknown; arguments?: unknown; signature?: unknown}[]) : []
      const toolCalls = calls
        .filter((c) => typeof c.callId === 'string' && typeof c.name === 'string')
        .map((c) => ({
          callId: c.callId as string,
          name: c.name as string,
          arguments: typeof c.arguments === 'string' ? c.arguments : '{}',
          ...(typeof c.signature === 'string' ? {signature: c.signature} : {}),
        }))
      out.push(toolCalls.length > 0 ? {role: 'assistant', content: row.content, toolCalls} : {role: 'assistant', content: row.content})
    } else if (tool && typeof tool.callId === 'string' && typeof tool.name === 'string') {
      out.push({role: 'tool', callId: tool.callId, name: tool.name, content: row.content, ...(tool.isError === true ? {isError: true} : {})})
    }
  }
  return out
}

/** Chat messages → what the history stores. */
export function toStored(messages: readonly ChatMessage[]): StoredMessage[] {
  return messages.map((m) => {
    if (m.role === 'user') return {role: 'user', content: m.content}
    if (m.role === 'assistant') return {role: 'assistant', content: m.content, tool: m.toolCalls?.length ? JSON.stringify({calls: m.toolCalls}) : null}
    return {role: 'tool', content: m.content, tool: JSON.stringify({callId: m.callId, name: m.name, isError: m.isError === true})}
  })
}

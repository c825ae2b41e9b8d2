/**
 * Request validation for the session routes (docs/SECURITY.md S18: thread values and agent ids are validated
 * before use).
 */
import {z} from 'zod'

import {AGENT_ID_PATTERN} from '../../contract/ids.js'

export const THREAD_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/
export const SESSION_KEY_PATTERN = /^ses_[A-Za-z0-9]{32}$/
/** A user message may be long (a pasted file), but not unbounded. */
export const MAX_CONTENT_CHARS = 512 * 1024

export const threadSchema = z
  .string()
  .regex(THREAD_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$ (letters, digits, ".", "_", ":", "-"; at most 128)')

export const createSessionSchema = z.object({
  agentId: z.string().regex(AGENT_ID_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,62}$').optional(),
  thread: threadSchema.optional(),
  forceNew: z.boolean().optional(),
  // Anything else (a `userId`, say) is ignored: the acting user is always the token's (docs/SECURITY.md S16).
})

export const postMessageSchema = z.object({
  content: z.string().min(1, 'must not be empty').max(MAX_CONTENT_CHARS),
  dryRun: z.boolean().optional(),
})

export type CreateSessionBody = z.infer<typeof createSessionSchema>
export type PostMessageBody = z.infer<typeof postMessageSchema>

type Plain = Record<string, unknown>

function plainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The schemas' result for a body they accept, checked by hand (zod costs more than the rest of
 * the request's handling); undefined for anything else, which the schema then reports.
 */
export function quickCreateSession(value: unknown): CreateSessionBody | undefined {
  if (!plainObject(value)) return undefined
  const {agentId, thread, forceNew} = value
  const out: CreateSessionBody = {}
  if (agentId !== undefined) {
    if (typeof agentId !== 'string' || !AGENT_ID_PATTERN.test(agentId)) return undefined
    out.agentId = agentId
  }
  if (thread !== undefined) {
    if (typeof thread !== 'string' || !THREAD_PATTERN.test(thread)) return undefined
    out.thread = thread
  }
  if (forceNew !== undefined) {
    if (typeof forceNew !== 'boolean') return undefined
    out.forceNew = forceNew
  }
  return out
}

/** See quickCreateSession. */
export function quickPostMessage(value: unknown): PostMessageBody | undefined {
  if (!plainObject(value)) return undefined
  const {content, dryRun} = value
  if (typeof content !== 'string' || content.length === 0 || content.length > MAX_CONTENT_CHARS) return undefined
  if (dryRun === undefined) return {content}
  return typeof dryRun === 'boolean' ? {content, dryRun} : undefined
}

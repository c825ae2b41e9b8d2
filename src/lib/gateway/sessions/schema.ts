/**
 * Request validation for the session routes (S18: thread values and agent ids are validated
 * before use).
 */
import {z} from 'zod'

import {AGENT_ID_PATTERN} from '../agents/schema.js'

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
  // Anything else (a `userId`, say) is ignored: the acting user is always the token's (S16).
})

export const postMessageSchema = z.object({
  content: z.string().min(1, 'must not be empty').max(MAX_CONTENT_CHARS),
  dryRun: z.boolean().optional(),
})

export type CreateSessionBody = z.infer<typeof createSessionSchema>
export type PostMessageBody = z.infer<typeof postMessageSchema>

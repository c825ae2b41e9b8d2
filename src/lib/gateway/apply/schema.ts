/**
 * Server-side validation of what `lobu apply` sends (docs/SECURITY.md S15: a bad lobu.toml is rejected by the
 * CLI first and again here). Objects are strict: an unknown field is an error, never ignored.
 */
import {z} from 'zod'

import type {ApplyRequest, DesiredState} from '../../contract/apply.js'
// Same rules as the agents API (gateway/agents/schema.ts), so applied agents stay editable there.
import {
  AGENT_ID_PATTERN as AGENT_ID,
  MCP_ID_PATTERN as MCP_ID,
  PROVIDER_ID_PATTERN as PROVIDER_ID,
  SECRET_NAME_PATTERN as SECRET_NAME,
  WIRE_PROJECT_ID_PATTERN as PROJECT_ID,
} from '../../contract/ids.js'
import {HEADER_SAFE, HEADER_SAFE_MESSAGE} from '../http/validate.js'
const PRE_APPROVED = /^\/mcp\/([^/]+)\/tools\/([^/]+)$/

const nonEmpty = z.string().min(1, 'must not be empty')
const stringList = z.array(nonEmpty).max(1000)
const stringMap = z.record(z.string().min(1).max(256), z.string().max(8192))
const httpUrl = z
  .string()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL')
const FILE_MAX = 256 * 1024

const keySource = z.discriminatedUnion('kind', [
  z.object({kind: z.literal('secret'), name: z.string().regex(SECRET_NAME, 'invalid secret name')}).strict(),
  z.object({kind: z.literal('none')}).strict(),
])

const provider = z
  .object({
    id: z.string().regex(PROVIDER_ID, 'must be a provider id like "openai"'),
    model: nonEmpty.max(256),
    baseUrl: httpUrl.optional(),
    key: keySource,
  })
  .strict()

const mcp = z
  .object({
    type: z.enum(['streamable-http', 'sse', 'stdio']),
    url: httpUrl.optional(),
    command: nonEmpty.optional(),
    args: z.array(z.string()).optional(),
    env: stringMap.optional(),
    headers: stringMap.optional(),
    oauth: z
      .object({
        authUrl: httpUrl,
        tokenUrl: httpUrl,
        clientId: nonEmpty.optional(),
        clientSecretRef: z.string().regex(SECRET_NAME, 'invalid secret name').optional(),
        scopes: z.array(nonEmpty).optional(),
      })
      .strict()
      .optional(),
    authScope: z.enum(['user', 'channel']).optional(),
    timeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .strict()
  .superRefine((server, ctx) => {
    if (server.type === 'stdio' && !server.command) {
      ctx.addIssue({code: z.ZodIssueCode.custom, path: ['command'], message: 'a stdio server needs a command'})
    }
    if (server.type !== 'stdio' && !server.url) {
      ctx.addIssue({code: z.ZodIssueCode.custom, path: ['url'], message: `a ${server.type} server needs a url`})
    }
  })

const files = z
  .object({
    identity: z.string().max(FILE_MAX).optional(),
    soul: z.string().max(FILE_MAX).optional(),
    user: z.string().max(FILE_MAX).optional(),
    skills: z.array(z.object({name: nonEmpty.max(200), content: z.string().max(FILE_MAX)}).strict()).max(200),
  })
  .strict()

const agent = z
  .object({
    id: z.string().regex(AGENT_ID, 'agent id must be lowercase letters, digits and hyphens (max 63)'),
    name: nonEmpty.max(200),
    description: z.string().max(2000).optional(),
    files,
    providers: z.array(provider).max(32),
    mcp: z.record(z.string().regex(MCP_ID, 'invalid MCP server id'), mcp),
    network: z.object({allowed: stringList, denied: stringList}).strict(),
    tools: z.object({preApproved: stringList, allowed: stringList, denied: stringList}).strict(),
  })
  .strict()
  .superRefine((a, ctx) => {
    a.tools.preApproved.forEach((pattern, i) => {
      const m = PRE_APPROVED.exec(pattern)
      if (!m) {
        ctx.addIssue({code: z.ZodIssueCode.custom, path: ['tools', 'preApproved', i], message: 'expected /mcp/<id>/tools/<name> or /mcp/<id>/tools/*'})
      } else if (!(m[1]! in a.mcp)) {
        ctx.addIssue({code: z.ZodIssueCode.custom, path: ['tools', 'preApproved', i], message: `no MCP server "${m[1]}" on this agent`})
      }
    })
  })

export const desiredStateSchema = z
  .object({
    project: z.string().regex(PROJECT_ID, 'project id must be lowercase letters, digits, ".", "_" and "-"'),
    agents: z.array(agent).max(500),
    secrets: z.record(z.string().regex(SECRET_NAME, 'invalid secret name'), z.string().min(1, 'must not be empty')),
  })
  .strict()
  .superRefine((state, ctx) => {
    const seen = new Set<string>()
    state.agents.forEach((a, i) => {
      if (seen.has(a.id)) ctx.addIssue({code: z.ZodIssueCode.custom, path: ['agents', i, 'id'], message: `duplicate agent id "${a.id}"`})
      seen.add(a.id)
    })
    // A provider key goes into an HTTP header of every turn: one that cannot is refused here,
    // not found out by a 502 on each turn.
    const providerKeys = new Set(state.agents.flatMap((a) => a.providers.flatMap((p) => (p.key.kind === 'secret' ? [p.key.name] : []))))
    for (const name of providerKeys) {
      const value = state.secrets[name]
      if (value !== undefined && !HEADER_SAFE.test(value)) ctx.addIssue({code: z.ZodIssueCode.custom, path: ['secrets', name], message: `a provider key ${HEADER_SAFE_MESSAGE}`})
    }
  })

const fingerprint = z.string().regex(/^[0-9a-f]{64}$/, 'expected the fingerprint of a plan')

export interface Issue {
  path: string
  message: string
}

/** `agents[0].providers[1].model` from zod's path array. */
export function formatPath(path: (string | number)[]): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg
    else out += `[${JSON.stringify(seg)}]`
  }
  return out || '(body)'
}

export function toIssues(error: z.ZodError): Issue[] {
  return error.issues.map((i) => ({path: formatPath(i.path), message: i.message}))
}

export type ParseResult<T> = {ok: true; value: T} | {ok: false; issues: Issue[]}

/** Validate a plan request body: the desired state (strict) and `prune`. */
export function parsePlanRequest(body: unknown): ParseResult<{desired: DesiredState; prune: boolean}> {
  const envelope = z.object({prune: z.boolean().optional()}).passthrough().safeParse(body)
  if (!envelope.success) return {ok: false, issues: toIssues(envelope.error)}
  const {prune, ...rest} = envelope.data
  const state = desiredStateSchema.safeParse(rest)
  if (!state.success) return {ok: false, issues: toIssues(state.error)}
  return {ok: true, value: {desired: state.data as DesiredState, prune: prune ?? false}}
}

export function parseApplyRequest(body: unknown): ParseResult<ApplyRequest> {
  if (typeof body === 'object' && body !== null && 'desired' in body) {
    const r = z.object({desired: desiredStateSchema, fingerprint, prune: z.boolean().optional()}).strict().safeParse(body)
    return r.success ? {ok: true, value: r.data as ApplyRequest} : {ok: false, issues: toIssues(r.error)}
  }
  const r = z.object({planId: nonEmpty.max(100), fingerprint}).strict().safeParse(body)
  return r.success ? {ok: true, value: r.data} : {ok: false, issues: toIssues(r.error)}
}

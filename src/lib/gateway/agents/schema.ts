/**
 * zod schemas for agent configuration as the gateway accepts it (the AgentSpec of
 * store/types.ts). Shared by `PUT /api/v1/agents/:id` and anything else that takes an agent.
 */
import {z} from 'zod'

import {AGENT_ID_PATTERN, MCP_ID_PATTERN, PROVIDER_ID_PATTERN, SECRET_NAME_PATTERN} from '../../contract/ids.js'
import type {AgentSpec} from '../store/types.js'

/** Agent ids are the lobu.toml ids (docs/SECURITY.md S18). */
export const agentIdSchema = z.string().regex(AGENT_ID_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,62}$ (lowercase letters, digits, dashes; at most 63)')

/** Org slugs follow the same rule as agent ids. */
export const orgSlugSchema = z.string().regex(AGENT_ID_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,62}$ (lowercase letters, digits, dashes; at most 63)')

const envName = z.string().regex(SECRET_NAME_PATTERN, 'must be an environment-variable style name')
const providerId = z.string().regex(PROVIDER_ID_PATTERN, 'must be a provider id like "openai"')
const mcpId = z.string().regex(MCP_ID_PATTERN, 'must be an MCP server id like "github"')
const httpUrl = z
  .string()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL')
const text = (max: number) => z.string().max(max)
const stringList = z.array(text(512)).max(1000)

export const keySourceSchema = z.discriminatedUnion('kind', [
  z.object({kind: z.literal('secret'), name: envName}),
  z.object({kind: z.literal('env'), name: envName}),
  z.object({kind: z.literal('none')}),
])

export const providerSpecSchema = z.object({
  id: providerId,
  model: z.string().min(1).max(256),
  baseUrl: httpUrl.optional(),
  key: keySourceSchema.default({kind: 'none'}),
})

export const mcpSpecSchema = z
  .object({
    type: z.enum(['streamable-http', 'sse', 'stdio']),
    url: httpUrl.optional(),
    command: z.string().min(1).max(1024).optional(),
    args: z.array(text(4096)).max(256).optional(),
    env: z.record(envName, text(8192)).optional(),
    headers: z.record(z.string().min(1).max(256), text(8192)).optional(),
    oauth: z
      .object({
        authUrl: httpUrl,
        tokenUrl: httpUrl,
        clientId: z.string().max(512).optional(),
        clientSecretRef: envName.optional(),
        scopes: z.array(z.string().max(256)).max(100).optional(),
      })
      .optional(),
    authScope: z.enum(['user', 'channel']).optional(),
    timeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .superRefine((mcp, ctx) => {
    if (mcp.type === 'stdio' && !mcp.command) ctx.addIssue({code: z.ZodIssueCode.custom, path: ['command'], message: 'required for type "stdio"'})
    if (mcp.type !== 'stdio' && !mcp.url) ctx.addIssue({code: z.ZodIssueCode.custom, path: ['url'], message: `required for type "${mcp.type}"`})
  })

const FILE_MAX = 256 * 1024

export const agentSpecSchema = z.object({
  name: z.string().trim().min(1).max(200),
  description: text(2000).optional(),
  files: z
    .object({
      identity: text(FILE_MAX).optional(),
      soul: text(FILE_MAX).optional(),
      user: text(FILE_MAX).optional(),
      skills: z.array(z.object({name: z.string().min(1).max(200), content: text(FILE_MAX)})).max(200).default([]),
    })
    .default({skills: []}),
  providers: z.array(providerSpecSchema).max(32).default([]),
  mcp: z.record(mcpId, mcpSpecSchema).default({}),
  network: z.object({allowed: stringList.default([]), denied: stringList.default([])}).default({allowed: [], denied: []}),
  tools: z
    .object({preApproved: stringList.default([]), allowed: stringList.default([]), denied: stringList.default([])})
    .default({preApproved: [], allowed: [], denied: []}),
})

/** The body of `PUT /api/v1/agents/:id`: an AgentSpec whose name defaults to the id. */
export const agentPutSchema = agentSpecSchema.extend({name: agentSpecSchema.shape.name.optional()})

export type AgentPutBody = z.infer<typeof agentPutSchema>

// Compile-time check: what the schema produces is a valid AgentSpec.
type _SpecCheck = z.infer<typeof agentSpecSchema> extends AgentSpec ? true : never
const _specCheck: _SpecCheck = true
void _specCheck

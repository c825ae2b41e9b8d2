/**
 * The zod schema of lobu.toml (docs/lobu-toml.md): shapes, types, formats. Rules that relate keys
 * to each other or to the disk (catalog ids, `key` vs `secret_ref`, MCP transport, `dir`) live in
 * `rules.ts`, which runs on every file even when a shape is wrong, so all errors show at once.
 *
 * Every object is strict (unknown keys are errors); `env`, `headers` and `network.judges` are
 * free-form maps. Keys of the earlier lobu platform are accepted with a loose shape check and are
 * listed in COMPAT so that `rules.ts` can warn about them.
 */
import {z} from 'zod'

import {AGENT_ID_PATTERN, PROJECT_ID_PATTERN} from '../contract/ids.js'
import {describeValue, isTable} from './values.js'

/** `/mcp/<server>/tools/<name>` or `/mcp/<server>/tools/*`. */
export const PRE_APPROVED = /^\/mcp\/([^/\s]+)\/tools\/([^/\s]+)$/
/** A host name, optionally with a leading `.` for "any subdomain". */
export const DOMAIN_PATTERN = /^\.?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i

export const MCP_TYPES = ['streamable-http', 'sse', 'stdio'] as const
export const AUTH_SCOPES = ['user', 'channel'] as const

/** Keys accepted for compatibility with the earlier lobu platform: warned about, never acted on. */
export const COMPAT = {
  agent: ['platforms', 'egress', 'guardrails', 'guardrails_disabled', 'guardrails_inline', 'worker', 'preview'],
  network: ['judge', 'judges'],
  root: ['memory'],
} as const

/** Compat keys of each strict object, so "expected one of" lists only what this version supports. */
export const compatKeysOf = new WeakMap<z.AnyZodObject, ReadonlySet<string>>()

function strict<T extends z.ZodRawShape>(shape: T, compat: readonly string[] = []) {
  const schema = z.object(shape).strict()
  compatKeysOf.set(schema, new Set(compat))
  return schema
}

/**
 * A loose shape check whose message says what was expected and what was found; `element` is what
 * an array element must be, when arrays are allowed, to name the offending element.
 */
function loose(expected: string, check: (value: unknown) => boolean, element?: (value: unknown) => boolean) {
  return z.custom<unknown>(check, (value: unknown) => {
    const bad = element && Array.isArray(value) ? value.find((e) => !element(e)) : undefined
    const got = bad === undefined ? describeValue(value) : `an array containing ${describeValue(bad)}`
    return {message: `expected ${expected}, got ${got}`}
  })
}

function stringMatching(check: (value: string) => boolean, message: (value: string) => string) {
  return z.string().superRefine((value, ctx) => {
    if (!check(value)) ctx.addIssue({code: z.ZodIssueCode.custom, message: message(value)})
  })
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
  } catch {
    return false
  }
}

const nonEmpty = z.string().min(1, {message: 'expected a non-empty string'})
const stringArray = z.array(z.string())
const httpUrl = stringMatching(isHttpUrl, (v) => `expected an http(s) URL, got ${JSON.stringify(v)}`)
const stringMap = z.record(z.string())

const isString = (v: unknown) => typeof v === 'string'
const isStringArray = (v: unknown) => Array.isArray(v) && v.every((e) => isString(e))
const isTableArray = (v: unknown) => Array.isArray(v) && v.every((e) => isTable(e))

const domainPattern = stringMatching(
  (v) => DOMAIN_PATTERN.test(v),
  (v) =>
    v.startsWith('*.')
      ? `wildcards are written with a leading dot: use ${JSON.stringify(v.slice(1))} for any subdomain of ${v.slice(2)}`
      : `expected a domain like "api.example.com" or ".example.com" (any subdomain), got ${JSON.stringify(v)}`,
)

const preApproved = stringMatching(
  (v) => PRE_APPROVED.test(v),
  (v) => `expected "/mcp/<server>/tools/<tool>" or "/mcp/<server>/tools/*", got ${JSON.stringify(v)}`,
)

export const providerSchema = strict({
  base_url: httpUrl.optional(),
  id: nonEmpty,
  key: nonEmpty.optional(),
  model: nonEmpty.optional(),
  secret_ref: nonEmpty.optional(),
})

export const oauthSchema = strict({
  auth_url: httpUrl,
  client_id: nonEmpty.optional(),
  client_secret: nonEmpty.optional(),
  scopes: stringArray.optional(),
  token_url: httpUrl,
})

export const mcpSchema = strict({
  args: stringArray.optional(),
  auth_scope: z.enum(AUTH_SCOPES).optional(),
  command: nonEmpty.optional(),
  env: stringMap.optional(),
  headers: stringMap.optional(),
  oauth: oauthSchema.optional(),
  timeout_ms: z.number().int().min(1).max(3_600_000).optional(),
  type: z.enum(MCP_TYPES).optional(),
  url: httpUrl.optional(),
})

export const networkSchema = strict(
  {
    allowed: z.array(domainPattern).optional(),
    denied: z.array(domainPattern).optional(),
    // compatibility
    judge: loose('a string, a table or an array', (v) => typeof v === 'string' || isTable(v) || Array.isArray(v)).optional(),
    judges: loose('a table', isTable).optional(),
  },
  COMPAT.network,
)

export const toolsSchema = strict({
  allowed: stringArray.optional(),
  denied: stringArray.optional(),
  pre_approved: z.array(preApproved).optional(),
})

export const agentSchema = strict(
  {
    description: z.string().optional(),
    dir: nonEmpty,
    name: nonEmpty,
    network: networkSchema.optional(),
    providers: z.array(providerSchema).optional(),
    skills: strict({mcp: z.record(mcpSchema).optional()}).optional(),
    tools: toolsSchema.optional(),
    // compatibility
    egress: loose('a table', isTable).optional(),
    guardrails: loose('an array of strings or a table', (v) => isStringArray(v) || isTable(v), isString).optional(),
    guardrails_disabled: loose('an array of strings', isStringArray, isString).optional(),
    guardrails_inline: loose('an array of tables or a table', (v) => isTableArray(v) || isTable(v), isTable).optional(),
    platforms: loose('a table or an array of tables', (v) => isTable(v) || isTableArray(v), isTable).optional(),
    preview: loose('a table or a boolean', (v) => isTable(v) || typeof v === 'boolean').optional(),
    worker: loose('a table', isTable).optional(),
  },
  COMPAT.agent,
)

const agentId = z
  .string()
  .regex(AGENT_ID_PATTERN, {message: 'agent id must be lowercase letters, digits and hyphens, starting with a letter or digit (at most 63)'})

export const configSchema = strict(
  {
    agents: z.record(agentId, agentSchema).optional(),
    gateway: strict({
      port: z
        .number()
        .superRefine((v, ctx) => {
          if (!Number.isInteger(v) || v < 1 || v > 65_535) {
            ctx.addIssue({code: z.ZodIssueCode.custom, message: `expected an integer from 1 to 65535, got ${v}`})
          }
        })
        .optional(),
    }).optional(),
    project: strict({
      id: stringMatching(
        (v) => PROJECT_ID_PATTERN.test(v),
        (v) => `expected 3–63 lowercase letters, digits and hyphens, starting with a letter or digit, got ${JSON.stringify(v)}`,
      ).optional(),
    }).optional(),
    // compatibility
    memory: loose('a table', isTable).optional(),
  },
  COMPAT.root,
)

export type RawConfig = z.infer<typeof configSchema>

/**
 * The strict object schema that validates the value at `path`, if any (to list its known keys).
 */
export function objectSchemaAt(path: readonly (string | number)[]): z.AnyZodObject | undefined {
  let schema: z.ZodTypeAny = configSchema
  const unwrap = () => {
    for (;;) {
      if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) schema = schema.unwrap()
      else if (schema instanceof z.ZodDefault) schema = schema.removeDefault()
      else if (schema instanceof z.ZodEffects) schema = schema.innerType()
      else return
    }
  }
  unwrap()
  for (const segment of path) {
    if (schema instanceof z.ZodObject && typeof segment === 'string') {
      const next = (schema.shape as Record<string, z.ZodTypeAny>)[segment]
      if (!next) return undefined
      schema = next
    } else if (schema instanceof z.ZodRecord && typeof segment === 'string') {
      schema = schema.valueSchema as z.ZodTypeAny
    } else if (schema instanceof z.ZodArray && typeof segment === 'number') {
      schema = schema.element as z.ZodTypeAny
    } else {
      return undefined
    }
    unwrap()
  }
  return schema instanceof z.ZodObject ? schema : undefined
}

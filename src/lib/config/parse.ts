/**
 * lobu.toml source → typed config + every issue, each with file:line:col and key path.
 */
import {TomlError, parse} from 'smol-toml'
import {z} from 'zod'

import {catalogEntry} from '../contract/providers.js'
import {type ConfigIssue, type PathSegment, formatPath, sortIssues} from './issues.js'
import {SourceLocator} from './locate.js'
import {checkRules} from './rules.js'
import {type RawConfig, compatKeysOf, configSchema, objectSchemaAt, providerSchema} from './schema.js'
import {closest} from './suggest.js'
import type {AgentConfig, LobuConfig, McpConfig, McpType, ProviderConfig} from './types.js'
import {describeValue, valueAt} from './values.js'

export interface ParseResult {
  /** Present only when the file has no errors. */
  config?: LobuConfig
  /** Errors and warnings, in source order. */
  issues: ConfigIssue[]
  /** True when the source is not valid TOML (then `issues` holds that one error). */
  syntaxError?: boolean
}

/** Where a parsed config came from; its locator is built on first use (only issues need positions). */
export interface ConfigOrigin {
  file: string
  readonly locator: SourceLocator
}

/** Where each parsed config came from, for positions of `$NAME` references later on. */
const origins = new WeakMap<LobuConfig, ConfigOrigin>()

export function originOf(config: LobuConfig): ConfigOrigin | undefined {
  return origins.get(config)
}

/** The origin of a source whose SourceLocator is made when first asked for: a valid file without warnings never needs one. */
function lazyOrigin(file: string, text: string): ConfigOrigin {
  let locator: SourceLocator | undefined
  return {
    file,
    get locator() {
      locator ??= new SourceLocator(text)
      return locator
    },
  }
}

/**
 * Parses and validates lobu.toml source. `file` is the name issues carry (relative to the working
 * directory); `root` is the project root that `dir` paths resolve against. Pure except that it
 * checks that each agent's `dir` exists.
 */
export function parseConfigSource(source: string, file: string, root: string): ParseResult {
  const text = source.startsWith('\uFEFF') ? source.slice(1) : source
  let doc: unknown
  try {
    doc = parse(text)
  } catch (error) {
    if (!(error instanceof TomlError)) throw error
    const reason = (error.message.split('\n')[0] ?? error.message).replace(/^Invalid TOML document:\s*/, '')
    const issue: ConfigIssue = {col: error.column, file, line: error.line, message: `TOML syntax error: ${reason}`, path: '', severity: 'error'}
    return {issues: [issue], syntaxError: true}
  }

  const origin = lazyOrigin(file, text)
  const issues: ConfigIssue[] = []
  const seen = new Set<string>()
  const add =
    (severity: ConfigIssue['severity']) =>
    (path: readonly PathSegment[], message: string, at: 'key' | 'value' = 'key'): void => {
      const {col, line} = origin.locator.locate(path, at)
      const issue: ConfigIssue = {col, file, line, message, path: formatPath(path), severity}
      const key = JSON.stringify(issue)
      if (seen.has(key)) return
      seen.add(key)
      issues.push(issue)
    }

  const result = configSchema.safeParse(doc)
  if (!result.success) {
    for (const issue of result.error.issues) reportZodIssue(issue, doc, origin.locator, add('error'))
  }
  checkRules(doc, {error: add('error'), kindAt: (path) => origin.locator.kind(path), root, warn: add('warning')})

  const sorted = sortIssues(issues)
  if (!result.success || sorted.some((i) => i.severity === 'error')) return {issues: sorted}
  const config = buildConfig(result.data)
  origins.set(config, origin)
  return {config, issues: sorted}
}

type Report = (path: readonly PathSegment[], message: string, at?: 'key' | 'value') => void

const EXPECTED: Record<string, string> = {
  array: 'an array',
  boolean: 'a boolean',
  integer: 'an integer',
  number: 'an integer',
  object: 'a table',
  string: 'a string',
}

function describeExpected(expected: string): string {
  if (EXPECTED[expected]) return EXPECTED[expected]
  // enums come as `'a' | 'b'`
  const options = expected.split(' | ').map((o) => o.replaceAll("'", '"'))
  return options.length > 1 ? `one of ${options.join(', ')}` : expected
}

function reportZodIssue(issue: z.ZodIssue, doc: unknown, locator: SourceLocator, report: Report): void {
  const {path} = issue
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type: {
      const expected = describeExpected(issue.expected)
      if (issue.received === 'undefined') {
        report(path, `missing required key (expected ${expected})`)
      } else {
        report(path, `expected ${expected}, got ${describeValue(valueAt(doc, path), locator.kind(path))}`, 'value')
      }
      return
    }
    case z.ZodIssueCode.unrecognized_keys: {
      const schema = objectSchemaAt(path)
      const known = schema ? Object.keys(schema.shape) : []
      const compat = (schema && compatKeysOf.get(schema)) ?? new Set<string>()
      const supported = known.filter((k) => !compat.has(k))
      const isAgent = path.length === 2 && path[0] === 'agents'
      for (const key of issue.keys) {
        const guess = closest(key, known)
        let hint = guess ? `did you mean \`${guess}\`?` : `expected one of ${supported.map((k) => `\`${k}\``).join(', ')}`
        if (!guess && isAgent && closest(key, Object.keys(providerSchema.shape))) {
          hint = `provider settings go in a [[${formatPath([...path, 'providers'])}]] table`
        }
        report([...path, key], `unknown key \`${key}\`; ${hint}`)
      }
      return
    }
    case z.ZodIssueCode.invalid_enum_value: {
      const options = issue.options.map(String)
      const received = String(issue.received)
      const guess = closest(received, options)
      report(
        path,
        `expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}, got ${JSON.stringify(received)}` +
          (guess ? `; did you mean "${guess}"?` : ''),
        'value',
      )
      return
    }
    case z.ZodIssueCode.invalid_string: {
      // Only record keys (agent ids) are checked with a plain regex: point at the key.
      report(path, issue.message)
      return
    }
    default: {
      report(path, issue.message, 'value')
    }
  }
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}

function buildConfig(data: RawConfig): LobuConfig {
  const agents: Record<string, AgentConfig> = {}
  for (const [id, agent] of Object.entries(data.agents ?? {})) {
    const providers: ProviderConfig[] = (agent.providers ?? []).map((p) =>
      compact({
        base_url: p.base_url,
        id: p.id,
        key: p.key,
        // rules.ts guarantees a model for ids outside the catalog
        model: p.model ?? catalogEntry(p.id)!.defaultModel,
        secret_ref: p.secret_ref,
      }),
    )
    let skills: AgentConfig['skills']
    if (agent.skills) {
      skills = {}
      if (agent.skills.mcp) {
        const mcp: Record<string, McpConfig> = {}
        for (const [serverId, s] of Object.entries(agent.skills.mcp)) {
          const type: McpType = s.type ?? (s.url === undefined ? 'stdio' : 'streamable-http')
          mcp[serverId] = compact({
            args: s.args,
            auth_scope: s.auth_scope ?? 'user',
            command: s.command,
            env: s.env,
            headers: s.headers,
            oauth: s.oauth && compact({...s.oauth}),
            timeout_ms: s.timeout_ms,
            type,
            url: s.url,
          })
        }
        skills.mcp = mcp
      }
    }
    agents[id] = compact({
      description: agent.description,
      dir: agent.dir,
      name: agent.name,
      network: agent.network && compact({allowed: agent.network.allowed, denied: agent.network.denied}),
      providers,
      skills,
      tools: agent.tools && compact({...agent.tools}),
    })
  }
  return compact({
    agents,
    gateway: data.gateway && compact({...data.gateway}),
    project: data.project && compact({...data.project}),
  })
}

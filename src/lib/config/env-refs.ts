/**
 * `$NAME` references in lobu.toml (provider `key`, MCP `env` and `headers` values,
 * `oauth.client_secret`): where they are, what they resolve to, and which are missing.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {UsageError} from '../core/errors.js'
import {parseEnvRef} from './env-ref-syntax.js'
import {type ConfigIssue, type PathSegment, formatIssue, formatPath} from './issues.js'
import {SourceLocator} from './locate.js'
import {originOf} from './parse.js'
import type {Project} from './types.js'

export {parseEnvRef} from './env-ref-syntax.js'

export interface EnvRef {
  /** The variable name, without `$`. */
  name: string
  /** Dotted key path of the value, e.g. `agents.support.providers[0].key`. */
  path: string
  segments: PathSegment[]
  file: string
  line: number
  col: number
}

/** A reference whose variable is not set (or empty), as an issue at the reference. */
export interface EnvRefIssue extends ConfigIssue {
  name: string
}

/** Where the project's lobu.toml is and, on demand, a locator over it (positions cost a scan). */
function origin(project: Project): {file: string; locate(segments: PathSegment[]): {col: number; line: number}} {
  const known = originOf(project.config)
  const file = known?.file ?? project.displayFile ?? (path.relative(process.cwd(), project.file) || path.basename(project.file))
  let locator: SourceLocator | null | undefined = undefined
  const get = (): SourceLocator | null => {
    if (locator !== undefined) return locator
    try {
      locator = known ? known.locator : new SourceLocator(readFileSync(project.file, 'utf8'))
    } catch {
      locator = null
    }
    return locator
  }
  return {file, locate: (segments) => get()?.locate(segments, 'value') ?? {col: 1, line: 1}}
}

interface RawRef {
  name: string
  segments: PathSegment[]
}

/** Every `$NAME` reference of the project in config order, without positions. */
function listRefs(project: Project): RawRef[] {
  const refs: RawRef[] = []
  const visit = (value: string | undefined, segments: PathSegment[]) => {
    if (value === undefined) return
    const name = parseEnvRef(value)
    if (name !== undefined) refs.push({name, segments})
  }
  for (const [agentId, agent] of Object.entries(project.config.agents)) {
    const base: PathSegment[] = ['agents', agentId]
    agent.providers.forEach((p, index) => visit(p.key, [...base, 'providers', index, 'key']))
    for (const [serverId, server] of Object.entries(agent.skills?.mcp ?? {})) {
      const at: PathSegment[] = [...base, 'skills', 'mcp', serverId]
      for (const [k, v] of Object.entries(server.env ?? {})) visit(v, [...at, 'env', k])
      for (const [k, v] of Object.entries(server.headers ?? {})) visit(v, [...at, 'headers', k])
      visit(server.oauth?.client_secret, [...at, 'oauth', 'client_secret'])
    }
  }
  return refs
}

const bySource = (a: {line: number; col: number}, b: {line: number; col: number}) => a.line - b.line || a.col - b.col

/** Every `$NAME` reference of the project, in file order of agents and keys. */
export function collectEnvRefs(project: Project): EnvRef[] {
  const {file, locate} = origin(project)
  return listRefs(project)
    .map(({name, segments}) => {
      const {col, line} = locate(segments)
      return {col, file, line, name, path: formatPath(segments), segments}
    })
    .sort(bySource)
}

export interface ResolvedEnvRefs {
  /** The value of every referenced variable that is set. */
  values: Record<string, string>
  /** One issue per reference (not per name) whose variable is unset or empty, in file order. */
  missing: EnvRefIssue[]
}

/**
 * Resolves every reference against `env` (default: the project's merged .env + process env).
 * Positions in lobu.toml are looked up for missing references only.
 */
export function resolveEnvRefs(project: Project, env: Record<string, string | undefined> = project.env): ResolvedEnvRefs {
  const values: Record<string, string> = {}
  const missing: EnvRefIssue[] = []
  let where: ReturnType<typeof origin> | undefined
  for (const {name, segments} of listRefs(project)) {
    const value = env[name]
    if (value === undefined || value === '') {
      where ??= origin(project)
      const {col, line} = where.locate(segments)
      missing.push({
        col,
        file: where.file,
        line,
        message: `$${name} is not set (in the environment or .env)`,
        name,
        path: formatPath(segments),
        severity: 'error',
      })
    } else {
      values[name] = value
    }
  }
  return {missing: missing.sort(bySource), values}
}

/** Some `$NAME` references are not set (exit 2); lists every one with its position. */
export class MissingEnvError extends UsageError {
  readonly missing: EnvRefIssue[]

  constructor(missing: EnvRefIssue[], root?: string) {
    const names = [...new Set(missing.map((m) => m.name))]
    const what = names.length === 1 ? 'variable is' : 'variables are'
    super(`${names.length} environment ${what} not set: ${names.join(', ')}`, {
      code: 'ENV_MISSING',
      details: missing.map((m) => formatIssue(m)),
      hint: `Set ${names.length === 1 ? 'it' : 'them'} in the environment or in ${root ? path.relative(process.cwd(), path.join(root, '.env')) : '.env in the project root'}`,
    })
    this.missing = missing
  }
}

/** The values of every reference; throws MissingEnvError listing all missing ones at once. */
export function requireEnvRefs(project: Project, env?: Record<string, string | undefined>): Record<string, string> {
  const {missing, values} = resolveEnvRefs(project, env)
  if (missing.length > 0) throw new MissingEnvError(missing, project.root)
  return values
}

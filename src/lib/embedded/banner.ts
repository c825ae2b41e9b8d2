/**
 * The `lobu run` banner (stderr): URL, storage, the project's agents and their providers (a
 * provider whose key is missing is shown as such), then the next command to try.
 */
import {CATALOG, catalogEntry} from '../contract/providers.js'
import type {Project} from '../config/index.js'

const PAST: Record<string, string> = {create: 'created', update: 'updated', noop: 'unchanged', delete: 'deleted'}

export interface BannerInput {
  url: string
  storage: string
  project?: Project
  /** What lobu.toml's `$NAME`s resolve from, as apply reads them: the environment, then .env. */
  env: Record<string, string | undefined>
  /** The process environment alone (the gateway's own: system providers); default `env`. */
  processEnv?: Record<string, string | undefined>
  applied?: {agents: Array<{id: string; action: string}>}
  systemProviders: Array<{id: string; model: string}>
  warnHost?: string
}

function keyStatus(key: string | undefined, secretRef: string | undefined, id: string, env: BannerInput['env'], processEnv: BannerInput['env']): string {
  if (secretRef) return `secret ${secretRef}`
  if (key === undefined) return catalogEntry(id)?.keyEnv.length ? 'no key' : 'keyless'
  const m = /^\$\{?([A-Z_][A-Z0-9_]*)\}?$/.exec(key)
  if (!m) return 'literal key'
  if (!env[m[1]!]) return `$${m[1]} missing`
  return processEnv[m[1]!] ? `$${m[1]}` : `$${m[1]} from .env`
}

/** The line about the default agent's system providers (read from the process environment only). */
function defaultLine(input: BannerInput, processEnv: BannerInput['env']): string {
  const sys = input.systemProviders.map((p) => p.id)
  if (sys.length > 0) return `  default   system providers: ${sys.join(', ')}`
  const inDotEnv = CATALOG.flatMap((e) => e.keyEnv).filter((name) => input.env[name] && !processEnv[name])
  if (inDotEnv.length > 0) return `  default   no system provider: ${inDotEnv.join(', ')} ${inDotEnv.length > 1 ? 'are' : 'is'} only in .env (used by this project's agents; export it for the default agent)`
  return '  default   no system provider (no provider key set in the environment)'
}

export function bannerLines(input: BannerInput): string[] {
  const processEnv = input.processEnv ?? input.env
  const lines = [`Lobu gateway listening on ${input.url}`, `  data      ${input.storage}`]
  const agents = input.project ? Object.entries(input.project.config.agents ?? {}) : []
  if (agents.length > 0) {
    lines.push('  agents')
    for (const [id, agent] of agents) {
      const providers = (agent.providers ?? []).map((p) => `${p.id}/${p.model} (${keyStatus(p.key, p.secret_ref, p.id, input.env, processEnv)})`)
      const action = input.applied?.agents.find((a) => a.id === id)?.action
      const label = action ? `  (${PAST[action] ?? action})` : ''
      lines.push(`    ${id.padEnd(16)} ${providers.length > 0 ? providers.join(', ') : 'system providers'}${label}`)
    }
  }
  lines.push(defaultLine(input, processEnv))
  if (input.warnHost) lines.push(`Warning: listening on ${input.warnHost}, which is not a loopback address: anyone who can reach it can try tokens.`)
  lines.push('', `Try: lobu chat -c local "hello"`, 'Press Ctrl-C to stop.')
  return lines
}

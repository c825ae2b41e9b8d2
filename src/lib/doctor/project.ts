/** Checks of the project in the working directory: lobu.toml, its `$NAME` references, provider keys. */
import path from 'node:path'

import {
  ConfigError,
  type Project,
  type ProviderConfig,
  formatIssue,
  loadProjectIfAny,
  parseEnvRef,
  resolveEnvRefs,
} from '../config/index.js'
import {CATALOG, catalogEntry, systemKeyVariable} from '../contract/providers.js'
import {LobuError} from '../core/errors.js'
import {type Check, check} from './types.js'

/** How many lines of errors or warnings a check shows before "… and N more". */
const SHOWN = 3

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function firstLines(lines: string[]): string {
  const shown = lines.slice(0, SHOWN)
  if (lines.length > SHOWN) shown.push(`… and ${lines.length - SHOWN} more`)
  return shown.join('\n')
}

export interface ProjectCheckResult {
  /** The project, when lobu.toml was found and is valid. */
  project?: Project
  check: Check
}

/** Find and load lobu.toml: valid (warnings shown and counted), invalid (first errors), or none. */
export async function checkConfigFile(opts: {cwd: string; env: NodeJS.ProcessEnv; configPath?: string}): Promise<ProjectCheckResult> {
  let project: Project | undefined
  try {
    project = await loadProjectIfAny({cwd: opts.cwd, env: opts.env, configPath: opts.configPath})
  } catch (error) {
    if (error instanceof ConfigError) {
      return {
        check: check('lobu-toml', 'fail', `${error.message}:\n${firstLines(error.errors.map((i) => formatIssue(i)))}`, error.hint ?? 'Run `lobu validate` for every error'),
      }
    }
    if (error instanceof LobuError) return {check: check('lobu-toml', 'fail', error.message, error.hint)}
    throw error
  }
  if (!project) {
    return {
      check: check(
        'lobu-toml',
        'warn',
        `no lobu.toml in ${opts.cwd} or any parent: project checks skipped`,
        'Run `lobu doctor` in your project, or create one with `lobu init`',
      ),
    }
  }
  const file = project.displayFile ?? project.file
  const agents = Object.keys(project.config.agents)
  const summary = `${file}: valid, ${plural(agents.length, 'agent')}${agents.length > 0 ? ` (${agents.join(', ')})` : ''}`
  if (project.warnings.length === 0) return {project, check: check('lobu-toml', 'ok', summary)}
  return {
    project,
    check: check(
      'lobu-toml',
      'warn',
      `${summary}, ${plural(project.warnings.length, 'warning')}:\n${firstLines(project.warnings.map((w) => formatIssue(w)))}`,
      'Run `lobu validate` to see every warning; they never fail a command',
    ),
  }
}

/** Where to tell the user to put a variable: the project's .env, relative to the working directory. */
function dotEnvPath(project: Project, cwd: string): string {
  return path.relative(cwd, path.join(project.root, '.env')) || '.env'
}

/** Every `$NAME` reference of lobu.toml is set (in the environment or the project's .env). */
export function checkEnvRefs(project: Project, cwd: string): Check {
  const {missing, values} = resolveEnvRefs(project)
  if (missing.length === 0) {
    const names = Object.keys(values)
    if (names.length === 0) return check('env-refs', 'ok', 'lobu.toml has no $NAME references')
    return check('env-refs', 'ok', `${plural(names.length, '$NAME reference')} set: ${names.join(', ')}`)
  }
  const byName = new Map<string, string[]>()
  for (const m of missing) {
    const where = byName.get(m.name) ?? []
    where.push(`${m.file}:${m.line}:${m.col} ${m.path}`)
    byName.set(m.name, where)
  }
  const names = [...byName.keys()]
  const message =
    names.length === 1
      ? `$${names[0]} is not set (${byName.get(names[0]!)!.join(', ')})`
      : `${names.length} variables are not set: ${names.map((n) => `$${n}`).join(', ')}\n${firstLines([...byName].map(([name, where]) => `${name}: ${where.join(', ')}`))}`
  const example = names.length === 1 ? `export ${names[0]}=…` : names.map((n) => `${n}=…`).join(' ')
  return check(
    'env-refs',
    'warn',
    message,
    `Set ${names.length === 1 ? 'it' : 'them'} in the environment (${example}) or in ${dotEnvPath(project, cwd)}`,
  )
}

interface KeyState {
  ok: boolean
  /** How the key resolves, e.g. `$OPENAI_API_KEY`, `$OPENAI_API_KEY not set`, `keyless`. */
  text: string
  /** The variable that is missing, if that is the problem. */
  missingVar?: string
}

/** Whether a declared provider's key resolves here (as the gateway would see it after apply). */
export function providerKeyState(p: ProviderConfig, env: Record<string, string | undefined>): KeyState {
  if (p.secret_ref) return {ok: true, text: `org secret ${p.secret_ref}`}
  if (p.key !== undefined) {
    const ref = parseEnvRef(p.key.trim())
    if (ref === undefined) return {ok: true, text: 'literal key'}
    return env[ref] ? {ok: true, text: `$${ref}`} : {ok: false, text: `$${ref} not set`, missingVar: ref}
  }
  if (p.id === 'ollama') return {ok: true, text: 'keyless'}
  return {ok: false, text: 'no key'}
}

/** For each agent: whether the key of each declared provider resolves. */
export function checkAgentProviders(project: Project, cwd: string): Check[] {
  const env = project.env
  return Object.entries(project.config.agents).map(([agentId, agent]) => {
    const id = `providers:${agentId}`
    if (agent.providers.length === 0) return check(id, 'ok', `agent ${agentId}: no providers declared; uses the gateway's system providers`)
    const states = agent.providers.map((p) => ({p, state: providerKeyState(p, env)}))
    const list = states.map(({p, state}) => `${p.id}/${p.model} (${state.text})`).join(', ')
    const bad = states.filter(({state}) => !state.ok)
    if (bad.length === 0) return check(id, 'ok', `agent ${agentId}: ${list}`)
    const fixes: string[] = []
    const vars = bad.map(({state}) => state.missingVar).filter((v): v is string => v !== undefined)
    if (vars.length > 0) fixes.push(`set ${[...new Set(vars)].join(', ')} in the environment or in ${dotEnvPath(project, cwd)}`)
    for (const {p} of bad.filter(({state}) => state.missingVar === undefined)) {
      const variable = catalogEntry(p.id)?.keyEnv[0] ?? `${p.id.toUpperCase().replaceAll('-', '_')}_API_KEY`
      fixes.push(`add key = "$${variable}" to provider ${p.id} of agents.${agentId} in lobu.toml`)
    }
    const fallback = bad.length < states.length ? ' (the others are used in order)' : ' (falls back to the system providers)'
    const fix = fixes.join('; ')
    return check(id, 'warn', `agent ${agentId}: ${list}${fallback}`, fix.charAt(0).toUpperCase() + fix.slice(1))
  })
}

/** Which agents have at least one declared provider whose key resolves (or declare none). */
export function agentsWithoutKey(project: Project): string[] {
  return Object.entries(project.config.agents)
    .filter(([, agent]) => agent.providers.length > 0 && !agent.providers.some((p) => providerKeyState(p, project.env).ok))
    .map(([id]) => id)
}

/**
 * The catalog providers whose key variable is set in the process environment (the project's .env
 * does not count): the system providers a gateway started from this shell installs. None is a warning when something would need them: no project
 * (the `default` agent), or an agent without a usable declared provider.
 */
export function checkSystemProviders(env: NodeJS.ProcessEnv, project?: Project): Check {
  const found = CATALOG.map((entry) => ({id: entry.id, variable: systemKeyVariable(entry, env)})).filter((e) => e.variable !== undefined)
  if (found.length > 0) {
    return check('system-providers', 'ok', `system providers (keys in the environment): ${found.map((e) => `${e.id} (${e.variable})`).join(', ')}`)
  }
  const needy = project ? [...agentsWithoutKey(project), ...Object.entries(project.config.agents).filter(([, a]) => a.providers.length === 0).map(([id]) => id)] : []
  const variables = CATALOG.flatMap((e) => e.keyEnv.slice(0, 1)).slice(0, 3)
  if (project && needy.length === 0) {
    return check('system-providers', 'ok', 'no system providers (no catalog key variable set); every agent has its own key')
  }
  const who = project ? `agent${needy.length === 1 ? '' : 's'} ${needy.join(', ')} ${needy.length === 1 ? 'has' : 'have'} no model` : "the gateway's default agent has no model"
  return check(
    'system-providers',
    'warn',
    `no system providers: no catalog key variable is set in this environment, so ${who}`,
    `Export a provider key (${variables.join(', ')}, …; or OLLAMA_HOST for a local ollama) where the gateway runs${project ? ', or give the agent a provider key in lobu.toml' : ''}`,
  )
}

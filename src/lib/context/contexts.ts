import {join} from 'node:path'

import {DEFAULT_PORT} from '../contract/defaults.js'
import {UsageError} from '../core/errors.js'
import {forgetToken} from '../credentials/store.js'
import {Env, configDir, ensureConfigDir, readJsonFile, toJsonFile, writeFileAtomic} from './files.js'
import {readProjectGateway} from './project-gateway.js'
import {forgetContextState} from './state.js'

/** The built-in context: the embedded gateway of the project in the current directory. */
export const LOCAL_CONTEXT = 'local'

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/

export type ContextSource = 'flag' | 'env' | 'current' | 'default'

export interface ResolvedContext {
  name: string
  /** Normalised base URL (no trailing slash). */
  url: string
  /** `scheme://host[:port]` of url: the key of its token in credentials.json. */
  origin: string
  /** Where the name came from: --context, $LOBU_CONTEXT, `current` in config.json, or the default. */
  source: ContextSource
  /** True for the built-in `local` that config.json does not override. */
  builtin: boolean
  /**
   * For `local` inside a project: that project's id, and whether the URL came from its
   * `.lobu/gateway.json` (a live `lobu run` of this very project) or from gateway.port / 8787.
   */
  project?: {id: string; root: string; fromGatewayFile: boolean}
}

/** The project a command runs in, as far as `local` is concerned. */
export interface LocalProject {
  root: string
  id: string
  /** `gateway.port` of its lobu.toml. */
  port?: number
}

export interface ContextInfo {
  name: string
  url: string
  current: boolean
  builtin: boolean
}

interface ConfigFile {
  version: 1
  current?: string
  contexts: Record<string, {url: string}>
}

export interface ContextOptions {
  /** The project's `gateway.port`, used by the built-in `local`. */
  projectPort?: number
  /** The project of the working directory: `local` is its gateway. */
  project?: LocalProject
  env?: Env
}

function configPath(env: Env): string {
  return join(configDir(env), 'config.json')
}

function readConfig(env: Env): ConfigFile {
  const path = configPath(env)
  const raw = readJsonFile(path)
  const config: ConfigFile = {version: 1, contexts: {}}
  if (raw === undefined) return config
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new UsageError(`${path} is not a lobu config file`, {code: 'CONFIG_CORRUPT', hint: 'Fix or delete the file'})
  }
  const obj = raw as {current?: unknown; contexts?: unknown}
  if (typeof obj.current === 'string' && obj.current !== '') config.current = obj.current
  if (typeof obj.contexts === 'object' && obj.contexts !== null) {
    for (const [name, value] of Object.entries(obj.contexts as Record<string, unknown>)) {
      const url = (value as {url?: unknown} | null)?.url
      if (typeof url === 'string') config.contexts[name] = {url}
    }
  }
  return config
}

function writeConfig(config: ConfigFile, env: Env): void {
  ensureConfigDir(env)
  writeFileAtomic(configPath(env), toJsonFile(config))
}

export function validateContextName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new UsageError(`invalid context name "${name}"`, {
      code: 'INVALID_CONTEXT_NAME',
      hint: 'Use 1–63 letters, digits, "_", "." or "-", starting with a letter or digit',
    })
  }
  return name
}

/** Validate and normalise a gateway URL: absolute http(s), no credentials/query/fragment, no trailing slash. */
export function normalizeGatewayUrl(input: string): string {
  const url = URL.canParse(input) ? new URL(input) : undefined
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`invalid gateway URL "${input}"`, {
      code: 'INVALID_URL',
      hint: 'Give an absolute http(s) URL, e.g. https://lobu.example.com or http://127.0.0.1:8787',
    })
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new UsageError(`invalid gateway URL "${input}": credentials, query and fragment are not allowed`, {
      code: 'INVALID_URL',
      hint: 'Give the base URL only; tokens are stored separately (lobu oauth login)',
    })
  }
  return url.origin + url.pathname.replace(/\/+$/, '')
}

export function builtinLocalUrl(projectPort?: number): string {
  return `http://127.0.0.1:${projectPort ?? DEFAULT_PORT}`
}

function knownNames(config: ConfigFile): string[] {
  return [LOCAL_CONTEXT, ...Object.keys(config.contexts).filter((n) => n !== LOCAL_CONTEXT).sort()]
}

function unknownContext(name: string, config: ConfigFile, from?: string): UsageError {
  const where = from ? ` (from ${from})` : ''
  return new UsageError(`unknown context "${name}"${where}; known contexts: ${knownNames(config).join(', ')}`, {
    code: 'UNKNOWN_CONTEXT',
    hint: `Add it with: lobu context add ${NAME_RE.test(name) ? name : 'NAME'} --url URL`,
  })
}

type Found = {url: string; builtin: boolean; project?: ResolvedContext['project']}

/**
 * A context's URL. `local` inside a project is that project's gateway (the url of its live
 * `.lobu/gateway.json`, else its gateway.port, else 8787), even when config.json has a `local`
 * entry (older versions of `lobu run` wrote one); outside a project such an entry still applies.
 */
function lookup(config: ConfigFile, name: string, projectPort?: number, project?: LocalProject): Found | undefined {
  if (name === LOCAL_CONTEXT && project) {
    const running = readProjectGateway(project.root)
    const ref = {id: project.id, root: project.root}
    if (running) return {url: normalizeGatewayUrl(running.url), builtin: true, project: {...ref, fromGatewayFile: true}}
    return {url: builtinLocalUrl(project.port ?? projectPort), builtin: true, project: {...ref, fromGatewayFile: false}}
  }
  const entry = config.contexts[name]
  if (entry) return {url: normalizeGatewayUrl(entry.url), builtin: false}
  if (name === LOCAL_CONTEXT) return {url: builtinLocalUrl(projectPort), builtin: true}
  return undefined
}

/**
 * The context of a command: `flag` (--context) > `$LOBU_CONTEXT` > `current` in config.json > `local`.
 * An unknown name is a usage error (exit 2) listing the known contexts.
 */
export function resolveContext(opts: {flag?: string; env?: Env; projectPort?: number; project?: LocalProject} = {}): ResolvedContext {
  const env = opts.env ?? process.env
  const config = readConfig(env)
  let name: string
  let source: ContextSource
  if (opts.flag !== undefined && opts.flag !== '') {
    name = opts.flag
    source = 'flag'
  } else if (env.LOBU_CONTEXT !== undefined && env.LOBU_CONTEXT !== '') {
    name = env.LOBU_CONTEXT
    source = 'env'
  } else if (config.current !== undefined) {
    name = config.current
    source = 'current'
  } else {
    name = LOCAL_CONTEXT
    source = 'default'
  }
  const found = lookup(config, name, opts.projectPort, opts.project)
  if (!found) {
    const from = {flag: undefined, env: 'LOBU_CONTEXT', current: 'config.json', default: undefined}[source]
    throw unknownContext(name, config, from)
  }
  const resolved: ResolvedContext = {name, url: found.url, origin: new URL(found.url).origin, source, builtin: found.builtin}
  if (found.project) resolved.project = found.project
  return resolved
}

/** The `current` of config.json, else `local` (ignores --context and $LOBU_CONTEXT). */
export function currentContextName(env: Env = process.env): string {
  return readConfig(env).current ?? LOCAL_CONTEXT
}

/** All contexts, `local` first, then by name. */
export function listContexts(opts: ContextOptions = {}): ContextInfo[] {
  const config = readConfig(opts.env ?? process.env)
  const current = config.current ?? LOCAL_CONTEXT
  return knownNames(config).map((name) => {
    const found = lookup(config, name, opts.projectPort, opts.project)!
    return {name, url: found.url, current: name === current, builtin: found.builtin}
  })
}

/** Add a new context; an existing name is a usage error (the built-in `local` may be overridden once). */
export function addContext(name: string, url: string, env: Env = process.env): {name: string; url: string} {
  validateContextName(name)
  const normalized = normalizeGatewayUrl(url)
  const config = readConfig(env)
  const existing = config.contexts[name]
  if (existing) {
    throw new UsageError(`context "${name}" already exists (${existing.url})`, {
      code: 'CONTEXT_EXISTS',
      hint: `Remove it first with: lobu context remove ${name}`,
    })
  }
  config.contexts[name] = {url: normalized}
  writeConfig(config, env)
  return {name, url: normalized}
}

/** Insert or update a context (used by `lobu run` for `local` and by `oauth login --url`). */
export function setContext(name: string, url: string, env: Env = process.env): {name: string; url: string} {
  validateContextName(name)
  const normalized = normalizeGatewayUrl(url)
  const config = readConfig(env)
  if (config.contexts[name]?.url === normalized) return {name, url: normalized}
  config.contexts[name] = {url: normalized}
  writeConfig(config, env)
  return {name, url: normalized}
}

/** Make a known context the current one. */
export function useContext(name: string, env: Env = process.env): {name: string; url: string} {
  const config = readConfig(env)
  const found = lookup(config, name)
  if (!found) throw unknownContext(name, config)
  config.current = name
  writeConfig(config, env)
  return {name, url: found.url}
}

export interface RemovedContext {
  name: string
  url: string
  /** For `local`: only its override was removed, the built-in remains. */
  overrideOnly: boolean
  /** The stored token of the context's origin was forgotten (no other context uses that origin). */
  forgotToken: boolean
}

/**
 * Remove a context. Its stored token is forgotten too, unless another context still points at the
 * same origin. Removing `local` removes only its override (and keeps the token).
 */
export function removeContext(name: string, opts: ContextOptions = {}): RemovedContext {
  const env = opts.env ?? process.env
  const config = readConfig(env)
  const entry = config.contexts[name]
  if (!entry) {
    if (name === LOCAL_CONTEXT) {
      throw new UsageError('context "local" is built in and cannot be removed', {
        code: 'CONTEXT_BUILTIN',
        hint: 'Point it elsewhere with `lobu run --port N`, or use another context with `lobu context use NAME`',
      })
    }
    throw unknownContext(name, config)
  }
  const url = normalizeGatewayUrl(entry.url)
  delete config.contexts[name]
  if (name === LOCAL_CONTEXT) {
    writeConfig(config, env)
    return {name, url, overrideOnly: true, forgotToken: false}
  }
  if (config.current === name) delete config.current
  writeConfig(config, env)
  forgetContextState(name, env)

  const origin = new URL(url).origin
  const stillUsed = knownNames(config).some((other) => {
    const found = lookup(config, other, opts.projectPort, opts.project)
    return found !== undefined && new URL(found.url).origin === origin
  })
  const forgot = stillUsed ? false : forgetToken(origin, env)
  return {name, url, overrideOnly: false, forgotToken: forgot}
}

/**
 * Boot the embedded gateway inside this process, the way `lobu run` does (and `lobu chat` when
 * nothing answers on the local context): pre-flight, port, data-dir lock, template, bootstrap,
 * the stored CLI token, context `local`, then auto-apply of the project's agents.
 *
 * Heavy: import lazily from commands.
 */
import {mkdir} from 'node:fs/promises'
import {homedir} from 'node:os'
import path from 'node:path'

import {DEFAULT_PORT} from '../contract/defaults.js'
import {trace} from '../core/trace.js'
import {projectIdOf} from '../config/project-id.js'
import type {Project} from '../config/index.js'
import {removeProjectGateway, writeProjectGateway} from '../context/project-gateway.js'
import {getLocalAdmin, saveToken} from '../credentials/store.js'
import {Readiness} from '../gateway/readiness.js'
import type {RunningGateway} from '../gateway/server.js'
import {redactDatabaseUrl} from '../gateway/store/postgres.js'
import {installStopSignals, pauseForTests, type StopSignals} from './signals.js'


export interface BootOptions {
  project?: Project
  port?: number
  host?: string
  dataDir?: string
  env?: NodeJS.ProcessEnv
  /** Apply lobu.toml to org `local` (as `lobu apply --yes --prune`). Default true when a project is given. */
  apply?: boolean
  version?: string
  /** Progress lines for stderr. */
  log?: (line: string) => void
  logger?: (level: 'info' | 'warn' | 'error' | 'debug', msg: string) => void
  /** Whether `logger` shows debug lines: each request is logged at debug level (default true). */
  logRequests?: boolean
  /**
   * Aborted by SIGINT/SIGTERM (see signals.ts): the boot stops at its next stage, closes what it
   * opened, releases the lock and rejects with the abort reason (a BootInterrupted). Without
   * one, the boot installs its own SIGINT/SIGTERM handlers (removed by close()), so an embedded
   * boot is stopped as cleanly as `lobu run`.
   */
  signal?: AbortSignal
  /**
   * The boot steps `/health` waits for: the boot adds "cli token" and (when it applies)
   * "auto-apply"; a caller adds its own before the boot and marks them done. Default: a new one.
   */
  readiness?: Readiness
  /** See GatewayOptions.durable (`lobu run --durable`). */
  durable?: boolean
}

export interface BootedGateway {
  gateway: RunningGateway
  url: string
  origin: string
  token: string
  /** What the data lives in: the data dir, or the database URL without its password. */
  storage: string
  /** The auto-apply result, when one ran. */
  applied?: AutoApplyResult
  /** The boot steps `/health` waits for. */
  readiness: Readiness
  close(): Promise<void>
}

export interface AutoApplyResult {
  agents: Array<{id: string; action: string}>
  summary: {create: number; update: number; delete: number; noop: number}
}

/** Data dir: flag > $LOBU_DATA_DIR > <project root>/.lobu/data > $XDG_DATA_HOME/lobu/data > ~/.local/share/lobu/data. */
export function resolveDataDir(opts: {flag?: string; env?: NodeJS.ProcessEnv; project?: Project}): string {
  const env = opts.env ?? process.env
  if (opts.flag) return path.resolve(opts.flag)
  if (env.LOBU_DATA_DIR) return path.resolve(env.LOBU_DATA_DIR)
  if (opts.project) return path.join(opts.project.root, '.lobu', 'data')
  const xdg = env.XDG_DATA_HOME || path.join(env.HOME || homedir(), '.local', 'share')
  return path.join(xdg, 'lobu', 'data')
}

export function resolvePort(flag: number | undefined, project?: Project): number {
  return flag ?? project?.config.gateway?.port ?? DEFAULT_PORT
}

export async function bootLocalGateway(opts: BootOptions): Promise<BootedGateway> {
  // An embedded boot with no signal of its own (`lobu chat`): handlers from its first line on.
  const own: StopSignals | undefined = opts.signal ? undefined : installStopSignals()
  const signal = opts.signal ?? own!.signal
  try {
    const booted = await boot(opts, signal)
    if (!own) return booted
    // Up: a signal now shuts the embedded gateway down and ends the process with the signal's
    // code; a Ctrl-C that the command handles itself (`lobu chat` cancels its turn, then closes
    // the gateway) is left to it.
    const onStop = () => {
      if (own.received === 'SIGINT' && process.listenerCount('SIGINT') > 1) return
      void booted.close().finally(() => process.exit(own.received === 'SIGTERM' ? 143 : 130))
    }
    if (signal.aborted) onStop()
    else signal.addEventListener('abort', onStop, {once: true})
    return {
      ...booted,
      close: async () => {
        signal.removeEventListener('abort', onStop)
        own.dispose()
        await booted.close()
      },
    }
  } catch (err) {
    own?.dispose()
    throw err
  }
}

async function boot(opts: BootOptions, signal: AbortSignal): Promise<BootedGateway> {
  const env = opts.env ?? process.env
  const log = opts.log ?? (() => {})
  const project = opts.project
  const doApply = opts.apply ?? Boolean(project)
  const checkpoint = async (stage: string) => {
    trace(`boot: ${stage}`)
    await pauseForTests(stage, signal, env)
    signal.throwIfAborted()
  }
  await checkpoint('started')
  const readiness = opts.readiness ?? new Readiness()
  const tokenStored = readiness.add('cli token')
  const applyDone = doApply && project ? readiness.add('auto-apply') : () => {}
  // /health is ready only once `local` in the project leads here.
  const recorded = project ? readiness.add('.lobu/gateway.json') : () => {}

  // Pre-flight before anything is written: the desired state (resolves every $NAME; exit 2 on a
  // missing one) is built before the port is bound or the data dir is touched.
  let desired: unknown
  if (doApply && project) {
    const {buildDesiredState} = await import('../apply/desired-state.js')
    desired = await buildDesiredState(project, project.env, {
      // A fresh project without its key still boots: the provider is applied without a value
      // (the banner shows it as missing; chat answers NO_MODEL_CONFIGURED naming the variable).
      onMissing: (error) => {
        log(`Warning: ${error.message}; providers that need ${error.missing.length === 1 ? 'it' : 'them'} have no key until set`)
        for (const d of error.details) log(`  ${d}`)
      },
    })
  }

  const databaseUrl = env.DATABASE_URL || undefined
  const dataDir = resolveDataDir({flag: opts.dataDir, env, project})
  if (!databaseUrl) await mkdir(dataDir, {recursive: true, mode: 0o700})

  if (!databaseUrl) {
    // A data dir held by a live gateway is the real problem: say so before the port (which that
    // gateway may well be listening on) is tried.
    const {DataDirLockedError, LOCK_FILE, readDataDirLock} = await import('../gateway/store/lock.js')
    const holder = await readDataDirLock(dataDir)
    if (holder?.alive && holder.pid !== process.pid) throw new DataDirLockedError(path.join(dataDir, LOCK_FILE), holder)
  }

  const {startGateway} = await import('../gateway/server.js')
  await checkpoint('gateway modules loaded')
  const gateway = await startGateway({
    host: opts.host ?? '127.0.0.1',
    port: resolvePort(opts.port, project),
    dataDir,
    databaseUrl,
    env,
    version: opts.version ?? '0.0.0',
    project: project ? {id: projectIdOf(project).id, root: project.root} : undefined,
    logger: opts.logger,
    logRequests: opts.logRequests,
    readiness,
    durable: opts.durable,
    signal,
    onStage: (stage) => checkpoint(stage),
  })

  try {
    await checkpoint('gateway serving')
    // Every boot: a valid local admin account for the origin we serve (its own account in
    // credentials.json: a login to the same origin never replaces it, nor it a login).
    const stored = getLocalAdmin(gateway.origin, env)
    const t = await gateway.ensureLocalCliToken(stored?.token)
    if (t.created || !stored || stored.token !== t.token) {
      saveToken(gateway.origin, {token: t.token, tokenId: t.tokenId, org: t.org, user: t.user, scopes: t.scopes, expiresAt: t.expiresAt}, env, {kind: 'local-admin'})
    }
    tokenStored()
    await checkpoint('cli token saved')

    let applied: AutoApplyResult | undefined
    if (doApply && project && desired) {
      const {autoApply} = await import('./auto-apply.js')
      applied = await autoApply({gateway, token: t.token, project, desired, log})
      await checkpoint('auto-apply done')
    }
    applyDone()

    // Ready: `local` in this project now means this gateway (global contexts are left alone).
    if (project) {
      const root = project.root
      writeProjectGateway(root, {url: gateway.url, projectId: projectIdOf(project).id})
      gateway.onShutdown(() => removeProjectGateway(root))
      trace('boot: .lobu/gateway.json written')
    }
    recorded()

    return {
      gateway,
      url: gateway.url,
      origin: gateway.origin,
      token: t.token,
      storage: databaseUrl ? redactDatabaseUrl(databaseUrl) : dataDir,
      applied,
      readiness,
      close: () => gateway.close(),
    }
  } catch (err) {
    await gateway.close().catch(() => undefined)
    throw err
  }
}

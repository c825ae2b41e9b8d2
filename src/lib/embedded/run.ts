/**
 * `lobu run` in the foreground: boot, banner, optional --watch, and shutdown on SIGINT/SIGTERM
 * (stop accepting, end streams, close the database, release the lock, exit 0; a second signal
 * exits at once). The caller installs the signal handlers first thing (signals.ts) and passes
 * their `signal`: one received during the boot stops it cleanly with exit 130 / 143.
 */
import type {Project} from '../config/index.js'
import {bannerLines} from './banner.js'
import {bootLocalGateway, type BootOptions} from './boot.js'
import {BootInterrupted} from './signals.js'

export interface RunOptions extends BootOptions {
  /** Aborted by the first SIGINT/SIGTERM (installStopSignals). */
  signal: AbortSignal
  watch?: boolean
  quiet?: boolean
  configPath?: string
  cwd: string
}

/** How long SIGINT/SIGTERM lets running turns finish before their streams are ended. */
const DRAIN_MS = 5_000

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

export async function runForeground(opts: RunOptions): Promise<number> {
  const log = opts.quiet ? () => {} : (line: string) => process.stderr.write(line + '\n')
  let booted: Awaited<ReturnType<typeof bootLocalGateway>>
  try {
    booted = await bootLocalGateway({...opts, log})
  } catch (err) {
    if (!(err instanceof BootInterrupted)) throw err
    if (!opts.quiet) process.stderr.write(`\n${err.message}\n`)
    return err.exitCode
  }
  let stopWatching: (() => void) | undefined
  if (opts.watch && opts.project) {
    const {watchProject} = await import('./watch.js')
    stopWatching = watchProject({
      project: opts.project,
      cwd: opts.cwd,
      configPath: opts.configPath,
      gateway: booted.gateway,
      token: booted.token,
      log: (line) => process.stderr.write(line + '\n'),
    })
  }

  if (!opts.quiet) {
    for (const line of bannerLines({
      url: booted.url,
      storage: booted.storage,
      project: opts.project,
      env: opts.project?.env ?? (opts.env as Record<string, string>) ?? process.env,
      processEnv: opts.env ?? process.env,
      applied: booted.applied,
      systemProviders: booted.gateway.systemProviders,
      warnHost: opts.host && !LOOPBACK.has(opts.host) ? opts.host : undefined,
    })) process.stderr.write(line + '\n')
  }

  return new Promise<number>((resolve) => {
    const onSignal = () => {
      const reason: unknown = opts.signal.reason
      const signal = reason instanceof BootInterrupted ? reason.signal : 'signal'
      stopWatching?.()
      // New turns get 503 with a hint; running ones may finish for up to 5 s.
      const {turns} = booted.gateway.inFlight()
      if (!opts.quiet) process.stderr.write(`\n${signal}: shutting down${turns > 0 ? ` (letting ${turns} running turn${turns === 1 ? '' : 's'} finish, up to ${DRAIN_MS / 1000} s; again to stop now)` : ''}…\n`)
      booted.gateway
        .drain(DRAIN_MS)
        .then(() => booted.close())
        .then(() => resolve(0))
        .catch((err: unknown) => {
          process.stderr.write(`Error: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`)
          resolve(1)
        })
    }
    if (opts.signal.aborted) onSignal()
    else opts.signal.addEventListener('abort', onSignal, {once: true})
  })
}

export type {Project}

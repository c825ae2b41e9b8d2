/**
 * Start the embedded database's worker thread before anything else needs it.
 *
 * The worker (pglite-worker.ts) imports PGlite, compiles its WebAssembly and runs PostgreSQL's
 * runtime set-up (≈0.3–0.5 s of CPU) straight away, then waits for a data dir. Started from
 * bin/run.js before oclif loads, that work overlaps with loading the CLI and the gateway on
 * the main thread; openPgliteDriver() claims the waiting worker and only hands it the data
 * dir (after the data-dir lock is taken).
 *
 * Node built-ins only: this module is loaded before anything else.
 */
import {createRequire} from 'node:module'
import {Worker} from 'node:worker_threads'

/** An unclaimed prewarmed worker is ended after this long (e.g. the gateway went for DATABASE_URL). */
const UNCLAIMED_TTL_MS = 30_000

interface Prewarmed {
  worker: Worker
  exited: boolean
  timer: NodeJS.Timeout
}

let prewarmed: Prewarmed | undefined

/**
 * A new worker thread running pglite-worker: the compiled `.js` beside this file, or under
 * tsx/vitest (source `.ts`) the source loaded through tsx (a worker ignores `--import` in
 * execArgv on Node 20, so an eval'd bootstrap does it).
 */
export function spawnPgliteWorker(): Worker {
  const here = new URL(import.meta.url)
  const workerData = {timeOrigin: performance.timeOrigin}
  if (!here.pathname.endsWith('.ts')) {
    return new Worker(new URL('./pglite-worker.js', here), {workerData})
  }
  const entry = new URL('./pglite-worker.ts', here)
  entry.search = ''
  const tsxApi = createRequire(here).resolve('tsx/esm/api')
  const bootstrap = `require(${JSON.stringify(tsxApi)}).tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)})`
  return new Worker(bootstrap, {eval: true, workerData})
}

/**
 * Spawn the database worker now, once (later calls do nothing). It never keeps the process
 * alive, ends with it, and is ended after a while if nobody claims it. Never throws.
 */
export function prewarmPglite(): void {
  if (prewarmed) return
  try {
    const worker = spawnPgliteWorker()
    worker.unref()
    const entry: Prewarmed = {
      worker,
      exited: false,
      timer: setTimeout(() => discardPrewarmedPglite(), UNCLAIMED_TTL_MS).unref(),
    }
    // An unhandled 'error' event would crash the process: whoever claims the worker learns
    // of the failure from 'exit'; unclaimed, it is simply gone.
    worker.on('error', () => {})
    worker.once('exit', () => {
      entry.exited = true
    })
    prewarmed = entry
  } catch {
    // No prewarm: openPgliteDriver() spawns a worker itself.
  }
}

/** The prewarmed worker, handed over once (undefined when there is none or it died). */
export function claimPrewarmedPglite(): Worker | undefined {
  const entry = prewarmed
  if (!entry || entry.exited) return undefined
  prewarmed = undefined
  clearTimeout(entry.timer)
  return entry.worker
}

/** End an unclaimed prewarmed worker (a gateway on DATABASE_URL has no use for it). */
export function discardPrewarmedPglite(): void {
  const entry = prewarmed
  if (!entry) return
  prewarmed = undefined
  clearTimeout(entry.timer)
  if (!entry.exited) void entry.worker.terminate().catch(() => {})
}

/** Whether a prewarmed worker is waiting to be claimed. */
export function hasPrewarmedPglite(): boolean {
  return prewarmed !== undefined && !prewarmed.exited
}

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
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, renameSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {Worker, threadId} from 'node:worker_threads'

/** An unclaimed prewarmed worker is ended after this long (e.g. the gateway went for DATABASE_URL). */
const UNCLAIMED_TTL_MS = 30_000

interface Prewarmed {
  worker: Worker
  exited: boolean
  timer: NodeJS.Timeout
}

let prewarmed: Prewarmed | undefined

/**
 * A new worker thread running pglite-worker: the compiled `.js` beside this file, or, when
 * running from the TypeScript sources (bin/dev.js, vitest), that file compiled on the fly (see
 * compiledWorkerFromSource).
 */
export function spawnPgliteWorker(): Worker {
  const here = new URL(import.meta.url)
  const workerData = {timeOrigin: performance.timeOrigin}
  const entry = here.pathname.endsWith('.ts') ? compiledWorkerFromSource(here) : new URL('./pglite-worker.js', here)
  return new Worker(entry, {workerData})
}

let compiledFromSource: URL | undefined

/**
 * pglite-worker.ts and the modules it imports, bundled by esbuild (a development dependency)
 * into one ESM file under `node_modules/.cache/lobu/`, once per process (≈20 ms). Packages stay
 * external, so `@electric-sql/pglite` and its `.wasm`/`.data` files resolve from that file as
 * from dist/. A worker thread is not handed the TypeScript loader of its parent in every Node
 * version (tsx in a worker fails on Node 22 and 24 with `ENOENT … node:fs?tsx-namespace=`), so
 * the worker gets plain JavaScript. Only reachable from the sources, never from dist/.
 */
function compiledWorkerFromSource(here: URL): URL {
  if (compiledFromSource) return compiledFromSource
  const require = createRequire(here)
  const esbuild = require('esbuild') as typeof import('esbuild')
  const [output] = esbuild.buildSync({
    entryPoints: [fileURLToPath(new URL('./pglite-worker.ts', here))],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  }).outputFiles
  const code = output!.contents
  const cacheDir = fileURLToPath(new URL('../../../../node_modules/.cache/lobu/', here))
  const file = path.join(cacheDir, `pglite-worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`)
  if (!existsSync(file)) {
    mkdirSync(cacheDir, {recursive: true})
    // Other test processes may write the same file at the same time: each renames its own copy.
    const partial = `${file}.${process.pid}.${threadId}.tmp`
    writeFileSync(partial, code)
    renameSync(partial, file)
  }
  compiledFromSource = pathToFileURL(file)
  return compiledFromSource
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

/**
 * Worker thread that owns the embedded database (PGlite). Spawned by pglite-prewarm.ts; spoken
 * to by pglite-host.ts (messages in pglite-protocol.ts).
 *
 * At start it loads PGlite and runs PostgreSQL's runtime set-up right away (compile the
 * WebAssembly, unpack PGlite's file bundle), before it knows the data dir: its filesystem
 * mounts the data dir only once `open` names it. `open` then prepares the data dir (a fresh one
 * is restored from the template, or made with initdb) and starts PostgreSQL on it. After that,
 * requests run one at a time in arrival order; the host keeps transactions exclusive.
 */
import {existsSync, readdirSync, rmSync} from 'node:fs'
import {mkdir, readFile, rename, rm} from 'node:fs/promises'
import {createRequire} from 'node:module'
import path from 'node:path'
import {setFlagsFromString} from 'node:v8'
import {parentPort, workerData} from 'node:worker_threads'

import type {PGlite, PGliteOptions, types as pgliteTypes} from '@electric-sql/pglite'

import {randomBase62} from './ids.js'
import {installArrayTypes, queryArrayTypes, readArrayTypes, writeArrayTypes} from './pglite-array-types.js'
import {
  type HostRequest,
  type OpenFailure,
  PGDATA_DIR,
  type PgliteOrigin,
  START_SETTINGS,
  type WorkerReply,
  errorToWire,
} from './pglite-protocol.js'

const port = parentPort!

// ---------------------------------------------------------------------------------------------
// Trace (LOBU_TRACE=1): same clock as the main thread's trace() (ms since process start).
const tracing = Boolean(process.env.LOBU_TRACE)
const clockOffset = performance.timeOrigin - ((workerData as {timeOrigin?: number} | null)?.timeOrigin ?? performance.timeOrigin)
function trace(label: string): void {
  if (tracing) process.stderr.write(`[trace] ${(clockOffset + performance.now()).toFixed(1).padStart(7)} ms  store worker: ${label}\n`)
}
trace('started')

// V8 re-compiles "hot" WebAssembly functions with its optimizing compiler on background
// threads. PostgreSQL's start-up makes hundreds of functions hot once: measured on 2 cores,
// ≈0.6 s of background CPU during a boot, competing with the boot itself. A 100× tiering
// budget leaves start-up on the baseline code (≈0.3 s less CPU per boot) while the functions a
// running gateway really uses still get optimized. Set before PGlite's module is compiled.
setFlagsFromString('--wasm-tiering-budget=180000000')
// Compiling PGlite's 9 MB module is mostly validating every function body up front (≈90 ms
// of CPU on 2 cores, ≈25 ms without): validate each function when it is first compiled
// instead. Functions are already compiled lazily; a boot touches a fraction of them.
setFlagsFromString('--wasm-lazy-validation')

// ---------------------------------------------------------------------------------------------
// Start PGlite now; it waits for the data dir inside its filesystem's initialSyncFs().

let giveDataDir!: (pgdata: string) => void
const dataDirGiven = new Promise<string>((resolve) => (giveDataDir = resolve))

/** PGlite's module and its compiled WebAssembly (the initdb fallback reuses them). */
interface Loaded {
  PGlite: typeof PGlite
  types: typeof pgliteTypes
  wasmModule: WasmModule
}

type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>

/** The WebAssembly global (this project's lib settings declare only its types). */
const wasmApi = (globalThis as unknown as {WebAssembly: {compile(bytes: Uint8Array): Promise<WasmModule>}}).WebAssembly

async function load(): Promise<Loaded> {
  const require = createRequire(import.meta.url)
  const wasm = readFile(require.resolve('@electric-sql/pglite/pglite.wasm')).then((bytes) => wasmApi.compile(bytes))
  const [{PGlite, types}, wasmModule] = await Promise.all([import('@electric-sql/pglite'), wasm])
  trace('pglite loaded')
  return {PGlite, types, wasmModule}
}

async function boot(loading: Promise<Loaded>): Promise<PGlite> {
  const require = createRequire(import.meta.url)
  const [{PGlite, types, wasmModule}, {EmscriptenBuiltinFilesystem}, bundle] = await Promise.all([
    loading,
    import('@electric-sql/pglite/basefs'),
    readFile(require.resolve('@electric-sql/pglite/pglite.data')),
  ])

  /** NODEFS over the data dir, mounted once the data dir is known (PGlite's NodeFS mounts it up front). */
  class DeferredNodeFS extends EmscriptenBuiltinFilesystem {
    override async initialSyncFs(): Promise<void> {
      trace('runtime ready, waiting for the data dir')
      const pgdata = await dataDirGiven
      const mod = this.pg!.Module
      mod.FS.mkdirTree(PGlite.paths.PGDATA)
      mod.FS.mount(mod.NODEFS, {root: pgdata}, PGlite.paths.PGDATA)
    }

    override async closeFs(): Promise<void> {
      this.pg!.Module.FS.quit()
    }
  }

  // PGlite only calls arrayBuffer() on the bundle: hand it the file's bytes, without a copy
  // when the buffer holds nothing else (as for a file this size).
  const whole = bundle.byteOffset === 0 && bundle.byteLength === bundle.buffer.byteLength
  const fsBundle = {arrayBuffer: async () => (whole ? bundle.buffer : bundle.buffer.slice(bundle.byteOffset, bundle.byteOffset + bundle.byteLength))} as Blob
  const options: PGliteOptions = {
    fs: new DeferredNodeFS(),
    pgliteWasmModule: wasmModule,
    fsBundle,
    startParams: [...PGlite.defaultStartParams, ...START_SETTINGS],
  }
  const db = new PGlite(options)
  // PGlite's start-up query of the array types, answered from the data dir when it can be.
  db._initArrayTypes = async () => {
    const pgdata = await dataDirGiven
    let arrayTypes = readArrayTypes(pgdata)
    if (!arrayTypes) {
      arrayTypes = await queryArrayTypes(db)
      writeArrayTypes(pgdata, arrayTypes)
    }
    installArrayTypes(db, arrayTypes, types)
  }
  await db.waitReady
  trace('pglite open')
  return db
}

const loading = load()
const booting = boot(loading)
// Failures are reported to `open`; until then they must not count as unhandled.
loading.catch(() => {})
booting.catch(() => {})

// ---------------------------------------------------------------------------------------------
// The data dir.

class OpenError extends Error {
  constructor(
    message: string,
    readonly failure: OpenFailure,
  ) {
    super(message)
  }
}

/** Remove what a crash in the middle of creating the database may have left behind. */
function removeLeftovers(dataDir: string): void {
  for (const name of readdirSync(dataDir)) {
    if (name.startsWith(`${PGDATA_DIR}.tmp-`)) rmSync(path.join(dataDir, name), {recursive: true, force: true})
  }
}

/**
 * Create the database of a fresh data dir. It is built in a temporary directory and renamed
 * into place only when complete, so a crash during first boot never leaves a half-made
 * database behind. From the prebuilt template when there is one (fast), else with initdb.
 */
async function createDatabase(dataDir: string, pgdata: string, templatePath: string | null): Promise<PgliteOrigin> {
  const tmp = path.join(dataDir, `${PGDATA_DIR}.tmp-${randomBase62(8)}`)
  try {
    let origin: PgliteOrigin = 'initdb'
    if (templatePath && existsSync(templatePath)) {
      try {
        // Loaded here: an existing data dir (the usual boot) needs neither it nor zlib.
        const {restoreTemplate} = await import('./tar.js')
        await restoreTemplate(templatePath, tmp)
        origin = 'template'
      } catch {
        // A damaged template must not stop the boot: fall back to initdb (slower, same result).
        await rm(tmp, {recursive: true, force: true})
      }
    }
    if (origin === 'initdb') {
      const {PGlite, wasmModule} = await loading
      const db = await PGlite.create({dataDir: tmp, pgliteWasmModule: wasmModule})
      await db.close()
    }
    await rename(tmp, pgdata)
    return origin
  } catch (err) {
    await rm(tmp, {recursive: true, force: true}).catch(() => {})
    throw err
  }
}

/** Make sure `dataDir` holds a database; says where it came from. */
async function prepare(dataDir: string, templatePath: string | null): Promise<PgliteOrigin> {
  await mkdir(dataDir, {recursive: true, mode: 0o700})
  removeLeftovers(dataDir)
  const pgdata = path.join(dataDir, PGDATA_DIR)
  if (existsSync(path.join(pgdata, 'PG_VERSION'))) return 'existing'
  if (existsSync(pgdata)) {
    if (readdirSync(pgdata).length > 0) throw new OpenError(`${pgdata} exists but holds no database`, 'invalid')
    rmSync(pgdata, {recursive: true, force: true})
  }
  const origin = await createDatabase(dataDir, pgdata, templatePath)
  trace(`database created (${origin})`)
  return origin
}

let db: PGlite | undefined

async function open(dataDir: string, templatePath: string | null): Promise<{origin: PgliteOrigin}> {
  trace('open requested')
  const origin = await prepare(dataDir, templatePath)
  giveDataDir(path.join(dataDir, PGDATA_DIR))
  try {
    db = await booting
  } catch (err) {
    throw Object.assign(err instanceof Error ? err : new Error(String(err)), {openFailure: 'start' as const})
  }
  return {origin}
}

// ---------------------------------------------------------------------------------------------
// Requests.

async function run(req: HostRequest): Promise<unknown> {
  if (req.op === 'open') return open(req.dataDir, req.templatePath)
  if (!db) throw new Error('the database is not open')
  switch (req.op) {
    case 'query':
      return (await db.query(req.text, req.params)).rows
    case 'exec':
      await db.exec(req.text)
      return undefined
    case 'commit': {
      const [result] = await db.exec('COMMIT')
      if (result?.command === 'ROLLBACK') {
        throw Object.assign(new Error('Transaction was rolled back instead of committed'), {code: '25P02', severity: 'ERROR'})
      }
      return undefined
    }
    case 'close':
      if (!db.closed) await db.close()
      return undefined
  }
}

function reply(message: WorkerReply): void {
  try {
    port.postMessage(message)
  } catch (err) {
    // A value structured clone cannot copy: report that instead of leaving the caller waiting.
    port.postMessage({id: message.id, error: errorToWire(err)} satisfies WorkerReply)
  }
}

let queue: Promise<void> = Promise.resolve()
port.on('message', (req: HostRequest) => {
  queue = queue.then(async () => {
    try {
      reply({id: req.id, value: await run(req)})
    } catch (err) {
      const failure = req.op === 'open' ? (err instanceof OpenError ? err.failure : (err as {openFailure?: OpenFailure}).openFailure) : undefined
      reply({id: req.id, error: errorToWire(err, failure)})
    }
  })
})

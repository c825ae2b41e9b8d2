import {trace} from '../../core/trace.js'
import {GatewayConfigError} from '../errors.js'
import type {Driver} from './driver.js'
import {migrate} from './migrate.js'
import {openPgliteDriver} from './pglite.js'
import {openPostgresDriver} from './postgres.js'
import {createRepos} from './repos/index.js'
import {defaultTemplatePath} from './template.js'
import type {OpenStoreOptions, Sql, Store, StoreTx} from './types.js'

export type * from './types.js'
export {isUniqueViolation, sqlState} from './driver.js'
export {newId, randomBase62} from './ids.js'
export {SchemaTooNewError} from './migrate.js'
export {LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration} from './migrations.js'
export {redactDatabaseUrl} from './postgres.js'

/**
 * Open the store: PostgreSQL when `databaseUrl` is set, else PGlite in `dataDir` (the caller
 * holds the data-dir lock; see lock.ts). Runs pending migrations before returning.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  let driver: Driver
  if (opts.databaseUrl) {
    driver = await openPostgresDriver(opts.databaseUrl)
  } else if (opts.dataDir) {
    const templatePath = opts.templatePath === undefined ? defaultTemplatePath() : opts.templatePath
    driver = (await openPgliteDriver(opts.dataDir, {templatePath})).driver
  } else {
    throw new GatewayConfigError('the store needs a data dir or a DATABASE_URL', {code: 'USAGE'})
  }
  try {
    trace('store: driver open')
    await migrate(driver)
  } catch (err) {
    await driver.close().catch(() => {})
    throw err
  }
  return storeOver(driver)
}

/** Thrown for a store used against its own open transaction (a programming error). */
export class StoreMisuseError extends Error {
  override name = 'StoreMisuseError'
}

/**
 * A transaction that issued no statement for this long while other work of the store waits for
 * it (PGlite: one connection) is taken for one waiting on itself: the waiting work fails.
 */
export const TX_STALL_MS = 5_000

/** The name of the function that runs a transaction's fn: it shows in stack traces. */
const TX_MARK = 'lobuStoreTx'
let storeCount = 0

interface OpenTx {
  readonly id: number
  readonly tx: StoreTx
  /** Statements of the transaction under way, and when the last one started or ended. */
  inFlight: number
  lastActivity: number
  /** Work of other flows waiting for the transaction to end (PGlite only). */
  waiters: {resolve: () => void; reject: (err: Error) => void}[]
  watch?: NodeJS.Timeout
}

/**
 * The Store over an open, migrated driver.
 *
 * Transactions: `transaction(fn)` runs fn on one connection between BEGIN and COMMIT; any
 * throw rolls it all back. Code inside fn uses the `tx` it is given, and hands it on to what it
 * calls (a function taking a StoreTx takes the store or a transaction alike).
 *
 * No AsyncLocalStorage (in Node 20 one in use makes every promise of the process pay for async
 * hooks): the open transactions are recognised in the stack instead, and only while one is
 * open. fn runs inside a function named after its transaction, and V8's async stack traces
 * carry that name through every `await` of fn's call chain. So, while a transaction is open:
 * - a nested `store.transaction()` from fn's chain joins the outer transaction;
 * - a query of the store's own repositories from fn's chain throws StoreMisuseError at once (it
 *   would run outside the transaction; on PGlite, one connection, it would wait for it forever);
 * - on PGlite, the store's other work waits for the transaction to end; when the transaction
 *   issues no statement for TX_STALL_MS meanwhile (what a chain the stack cannot follow, a
 *   callback or a timer, would cause by waiting on the store), that work fails with
 *   StoreMisuseError instead of hanging the gateway.
 * With no transaction open, a query costs one size check.
 */
export function storeOver(driver: Driver, options: {txStallMs?: number} = {}): Store {
  const stallMs = options.txStallMs ?? TX_STALL_MS
  const storeId = ++storeCount
  const markPattern = new RegExp(`^${TX_MARK}_${storeId}_(\\d+)$`)
  const open = new Map<number, OpenTx>()
  const singleConnection = driver.kind === 'pglite'
  let txCount = 0
  let closed = false

  /** The open transaction whose fn is on the current (async) stack. */
  const enclosing = (): OpenTx | undefined => {
    for (const name of stackFunctionNames()) {
      const match = name === null ? null : markPattern.exec(name)
      if (match) return open.get(Number(match[1]))
    }
    return undefined
  }

  /** PGlite: resolves once no transaction is open (rejects when the open one stalls). */
  const afterOpenTransactions = async (): Promise<void> => {
    for (let current = first(open); current; current = first(open)) {
      const t = current
      await new Promise<void>((resolve, reject) => {
        t.waiters.push({resolve, reject})
        if (!t.watch) {
          t.watch = setInterval(() => checkStall(t), Math.min(1_000, stallMs))
          t.watch.unref?.()
        }
      })
    }
  }

  const checkStall = (t: OpenTx): void => {
    if (t.inFlight > 0 || performance.now() - t.lastActivity < stallMs || t.waiters.length === 0) return
    const waiters = t.waiters
    t.waiters = []
    clearInterval(t.watch)
    t.watch = undefined
    const err = new StoreMisuseError(
      `store work waited ${stallMs / 1000} s for a transaction that issued no statement meanwhile: is the transaction waiting for it? ` +
        'Inside store.transaction(fn), use the tx given to fn, never the store itself.',
    )
    for (const w of waiters) w.reject(err)
  }

  const misuse = (what: string) =>
    new StoreMisuseError(`${what} inside store.transaction(fn): use the tx given to fn (the store itself runs outside the transaction, and waits for it on PGlite)`)

  const whileOpen = async <R>(text: string, params: unknown[] | undefined): Promise<R[]> => {
    if (enclosing()) throw misuse('a query of the store')
    if (singleConnection) await afterOpenTransactions()
    if (closed) throw new Error('the store is closed')
    return driver.query<R>(text, params)
  }

  const rootSql: Sql = {
    query<R>(text: string, params?: unknown[]) {
      if (open.size > 0) return whileOpen<R>(text, params)
      if (closed) return Promise.reject(new Error('the store is closed'))
      return driver.query<R>(text, params)
    },
  }

  const begin = <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    const id = ++txCount
    // fn runs inside a function named after this transaction (see enclosing()).
    const run = {
      async [`${TX_MARK}_${storeId}_${id}`](tx: StoreTx): Promise<T> {
        return await fn(tx)
      },
    }[`${TX_MARK}_${storeId}_${id}`]!
    return driver.transaction(async (txSql) => {
      let ended = false
      const guarded: Sql = {
        query<R>(text: string, params?: unknown[]) {
          if (ended) return Promise.reject(new Error('this transaction has already ended'))
          t.inFlight++
          t.lastActivity = performance.now()
          return txSql.query<R>(text, params).finally(() => {
            t.inFlight--
            t.lastActivity = performance.now()
          })
        },
      }
      const tx = createRepos(guarded)
      const t: OpenTx = {id, tx, inFlight: 0, lastActivity: performance.now(), waiters: []}
      open.set(id, t)
      try {
        return await run(tx)
      } finally {
        ended = true
        open.delete(id)
        clearInterval(t.watch)
        for (const w of t.waiters) w.resolve()
      }
    })
  }

  const store: Store = {
    ...createRepos(rootSql),
    kind: driver.kind,
    description: driver.description,
    async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      if (open.size > 0) {
        const outer = enclosing()
        if (outer) return fn(outer.tx)
        if (singleConnection) await afterOpenTransactions()
      }
      if (closed) throw new Error('the store is closed')
      return begin(fn)
    },
    async close() {
      if (closed) return
      closed = true
      await driver.close()
    },
  }
  return store
}

/**
 * The function names of the current stack, async frames included (V8 follows `await`s), read
 * from V8's call sites: whatever formats stack traces (source maps, a test runner) plays no part.
 */
function stackFunctionNames(): (string | null)[] {
  const prepare = Error.prepareStackTrace
  const limit = Error.stackTraceLimit
  Error.prepareStackTrace = (_err, sites) => sites
  Error.stackTraceLimit = Infinity
  try {
    const holder: {stack?: unknown} = {}
    Error.captureStackTrace(holder, stackFunctionNames)
    const sites = holder.stack as NodeJS.CallSite[]
    return sites.map((site) => site.getFunctionName())
  } finally {
    Error.prepareStackTrace = prepare
    Error.stackTraceLimit = limit
  }
}

function first<V>(map: Map<unknown, V>): V | undefined {
  for (const v of map.values()) return v
  return undefined
}

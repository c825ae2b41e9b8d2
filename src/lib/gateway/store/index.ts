import {trace} from '../../core/trace.js'
import {GatewayConfigError} from '../errors.js'
import {AsyncLocalStorage} from 'node:async_hooks'

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

/**
 * How storeOver recognises the open transaction whose fn is running. The store's own is
 * asyncLocalTxContext(); the bench (bench/store-tx.mjs) plugs in others to compare them.
 */
export interface TxContext {
  /** Run `fn` as the fn of the open transaction `id`. */
  run<T>(id: number, fn: () => Promise<T>): Promise<T>
  /** The id given to run() of the fn whose (async) call chain is running, if any. */
  current(): number | undefined
  /** No transaction is open any more. */
  idle(): void
}

/**
 * The transaction of the running code, carried by AsyncLocalStorage through every `await`,
 * timer and callback that fn starts. On Node 20 an AsyncLocalStorage in use makes every promise
 * of the process pay for its async hook: it is disabled whenever no transaction is open, so the
 * gateway's hot path (which runs no transaction) pays nothing. A context left behind by a
 * transaction that ended may come back when the next one starts: storeOver only trusts an id
 * that is still open.
 */
function asyncLocalTxContext(): TxContext {
  const storage = new AsyncLocalStorage<number>()
  return {
    run: (id, fn) => storage.run(id, fn),
    current: () => storage.getStore(),
    idle: () => storage.disable(),
  }
}

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
 * The open transaction whose fn is running is known through every `await`, timer and callback
 * of fn's call chain (asyncLocalTxContext: AsyncLocalStorage, in use only while a transaction
 * is open). So, while a transaction is open:
 * - a nested `store.transaction()` from fn's chain joins the outer transaction;
 * - a query of the store's own repositories from fn's chain throws StoreMisuseError at once (it
 *   would run outside the transaction; on PGlite, one connection, it would wait for it forever);
 * - on PGlite, the store's other work waits for the transaction to end; when the transaction
 *   issues no statement for TX_STALL_MS meanwhile (what a chain the context does not follow
 *   would cause by waiting on the store: work handed to a queue that was started outside fn),
 *   that work fails with StoreMisuseError instead of hanging the gateway.
 * With no transaction open, a query costs one size check.
 */
export function storeOver(driver: Driver, options: {txStallMs?: number; txContext?: TxContext} = {}): Store {
  const stallMs = options.txStallMs ?? TX_STALL_MS
  const context = options.txContext ?? asyncLocalTxContext()
  const open = new Map<number, OpenTx>()
  const singleConnection = driver.kind === 'pglite'
  let txCount = 0
  let closed = false

  /** The open transaction whose fn's call chain is running. */
  const enclosing = (): OpenTx | undefined => {
    const id = context.current()
    return id === undefined ? undefined : open.get(id)
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
        return await context.run(id, () => fn(tx))
      } finally {
        ended = true
        open.delete(id)
        if (open.size === 0) context.idle()
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

function first<V>(map: Map<unknown, V>): V | undefined {
  for (const v of map.values()) return v
  return undefined
}

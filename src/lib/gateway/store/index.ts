import {AsyncLocalStorage} from 'node:async_hooks'

import {UsageError} from '../../cli/errors.js'
import type {Driver} from './driver.js'
import {trace} from '../../cli/trace.js'
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

interface TxContext {
  readonly tx: StoreTx
  open: boolean
}

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
    throw new UsageError('the store needs a data dir or a DATABASE_URL')
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

/**
 * The Store over an open, migrated driver.
 *
 * Transactions: `transaction(fn)` runs fn on one connection between BEGIN and COMMIT; any
 * throw rolls it all back. The transaction is also bound to fn's async context, so a nested
 * `transaction()` joins the outer one, and a repository of the store itself (`store.agents…`)
 * called from inside fn runs in it too (on PGlite, a single connection, anything else would
 * wait for the transaction to end: a deadlock).
 */
export function storeOver(driver: Driver): Store {
  const current = new AsyncLocalStorage<TxContext>()
  let closed = false

  const rootSql: Sql = {
    query<R>(text: string, params?: unknown[]) {
      const ctx = current.getStore()
      if (ctx?.open) return ctx.tx.sql.query<R>(text, params)
      if (closed) return Promise.reject(new Error('the store is closed'))
      return driver.query<R>(text, params)
    },
  }

  const store: Store = {
    ...createRepos(rootSql),
    kind: driver.kind,
    description: driver.description,
    async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      const outer = current.getStore()
      if (outer?.open) return fn(outer.tx)
      if (closed) throw new Error('the store is closed')
      return driver.transaction(async (txSql) => {
        const ctx: {tx: StoreTx; open: boolean} = {open: true, tx: undefined as unknown as StoreTx}
        const guarded: Sql = {
          query<R>(text: string, params?: unknown[]) {
            if (!ctx.open) return Promise.reject(new Error('this transaction has already ended'))
            return txSql.query<R>(text, params)
          },
        }
        ctx.tx = createRepos(guarded)
        try {
          return await current.run(ctx, () => fn(ctx.tx))
        } finally {
          ctx.open = false
        }
      })
    },
    async close() {
      if (closed) return
      closed = true
      await driver.close()
    },
  }
  return store
}

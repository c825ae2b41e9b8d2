import path from 'node:path'

import type {PGlite} from '@electric-sql/pglite'

import {trace} from '../../core/trace.js'
import {GatewayError} from '../errors.js'
import type {Driver, TxSql} from './driver.js'
import {PgliteWorkerConnection, openFailureOf, openInWorker, workerDriver} from './pglite-host.js'
import {claimPrewarmedPglite, spawnPgliteWorker} from './pglite-prewarm.js'
import type {PgliteOrigin} from './pglite-protocol.js'

export {PGDATA_DIR, START_SETTINGS, type PgliteOrigin} from './pglite-protocol.js'

/**
 * A PGlite instance of this thread as a Driver (the template build uses it). PGlite is one
 * connection: its own mutex serialises transactions. The gateway's database runs in a worker
 * thread instead: see openPgliteDriver().
 */
export function pgliteDriver(db: PGlite, description: string): Driver {
  return {
    kind: 'pglite',
    description,
    async query<R>(text: string, params?: unknown[]) {
      return (await db.query<R>(text, params as unknown[] | undefined)).rows
    },
    async exec(script: string) {
      await db.exec(script)
    },
    transaction<T>(fn: (sql: TxSql) => Promise<T>): Promise<T> {
      return db.transaction((tx) =>
        fn({
          async query<R>(text: string, params?: unknown[]) {
            return (await tx.query<R>(text, params as unknown[] | undefined)).rows
          },
          async exec(script: string) {
            await tx.exec(script)
          },
        }),
      )
    },
    async close() {
      if (!db.closed) await db.close()
    },
  }
}

/**
 * Open (creating if needed) the PGlite database of a data dir. The caller holds the data-dir
 * lock. PGlite runs in a worker thread (the prewarmed one when bin/run.js started it, see
 * pglite-prewarm.ts), which also restores a fresh data dir from the template: the main
 * thread only waits.
 */
export async function openPgliteDriver(
  dataDir: string,
  options: {templatePath: string | null},
): Promise<{driver: Driver; origin: PgliteOrigin}> {
  const dir = path.resolve(dataDir)
  const prewarmed = claimPrewarmedPglite()
  trace(`store: ${prewarmed ? 'prewarmed worker claimed' : 'worker spawned'}`)
  const connection = new PgliteWorkerConnection(prewarmed ?? spawnPgliteWorker())
  let origin: PgliteOrigin
  try {
    origin = (await openInWorker(connection, dir, options.templatePath)).origin
  } catch (err) {
    await connection.terminate().catch(() => {})
    const failure = openFailureOf(err)
    if (failure === 'invalid') {
      throw new GatewayError((err as Error).message, {
        code: 'DATA_DIR_INVALID',
        hint: `Move it out of the way (or use another --data-dir) and start again.`,
      })
    }
    if (failure === 'start') {
      const reason = err instanceof Error ? err.message : String(err)
      throw new GatewayError(`cannot open the database in ${dir}: ${reason}`, {
        code: 'DATA_DIR_INVALID',
        hint: 'Is another version of lobu using this data dir? Use another --data-dir to start fresh.',
        cause: err,
      })
    }
    throw err
  }
  trace(`store: pglite open (${origin})`)
  return {driver: workerDriver(connection, dir), origin}
}

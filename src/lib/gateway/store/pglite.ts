import {existsSync, readdirSync, rmSync} from 'node:fs'
import {mkdir, rename, rm} from 'node:fs/promises'
import path from 'node:path'

import type {PGlite} from '@electric-sql/pglite'

import {OperationError} from '../../cli/errors.js'
import type {Driver, TxSql} from './driver.js'
import {randomBase62} from './ids.js'
import {restoreTemplate} from './tar.js'
import {trace} from '../../cli/trace.js'

/** PGlite's files live in this subdirectory of the data dir (beside gateway.lock and encryption.key). */
export const PGDATA_DIR = 'pgdata'

/**
 * Server settings for the embedded database. PostgreSQL's default shared_buffers (128 MB)
 * is touched at startup and stays resident: 16 MB is plenty for one developer's gateway and
 * roughly halves the process's RSS (≈320 → ≈170 MB).
 */
const START_SETTINGS = ['-c', 'shared_buffers=16MB']

export type PgliteOrigin = 'existing' | 'template' | 'initdb'

/** A PGlite instance as a Driver. PGlite is one connection: its own mutex serialises transactions. */
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

async function loadPGlite(): Promise<typeof PGlite> {
  return (await import('@electric-sql/pglite')).PGlite
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
        await restoreTemplate(templatePath, tmp)
        origin = 'template'
      } catch {
        // A damaged template must not stop the boot: fall back to initdb (slower, same result).
        await rm(tmp, {recursive: true, force: true})
      }
    }
    if (origin === 'initdb') {
      const PG = await loadPGlite()
      const db = await PG.create({dataDir: tmp})
      await db.close()
    }
    await rename(tmp, pgdata)
    return origin
  } catch (err) {
    await rm(tmp, {recursive: true, force: true}).catch(() => {})
    throw err
  }
}

/** Open (creating if needed) the PGlite database of a data dir. The caller holds the data-dir lock. */
export async function openPgliteDriver(
  dataDir: string,
  options: {templatePath: string | null},
): Promise<{driver: Driver; origin: PgliteOrigin}> {
  const dir = path.resolve(dataDir)
  await mkdir(dir, {recursive: true, mode: 0o700})
  removeLeftovers(dir)
  const pgdata = path.join(dir, PGDATA_DIR)

  let origin: PgliteOrigin = 'existing'
  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    if (existsSync(pgdata)) {
      if (readdirSync(pgdata).length > 0) {
        throw new OperationError(`${pgdata} exists but holds no database`, {
          code: 'DATA_DIR_INVALID',
          hint: `Move it out of the way (or use another --data-dir) and start again.`,
        })
      }
      rmSync(pgdata, {recursive: true, force: true})
    }
    origin = await createDatabase(dir, pgdata, options.templatePath)
    trace(`store: database created (${origin})`)
  }

  const PG = await loadPGlite()
  let db: PGlite
  trace('store: pglite module loaded')
  try {
    db = await PG.create({dataDir: pgdata, startParams: [...PG.defaultStartParams, ...START_SETTINGS]})
    trace('store: pglite open')
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    throw new OperationError(`cannot open the database in ${dir}: ${reason}`, {
      code: 'DATA_DIR_INVALID',
      hint: 'Is another version of lobu using this data dir? Use another --data-dir to start fresh.',
      cause: err,
    })
  }
  return {driver: pgliteDriver(db, dir), origin}
}

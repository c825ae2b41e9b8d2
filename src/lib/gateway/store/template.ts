import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import {gzip} from 'node:zlib'

import type {Migration} from './migrations.js'
import {MIGRATIONS} from './migrations.js'
import {migrate} from './migrate.js'
import {ARRAY_TYPES_FILE, arrayTypesFileContent, queryArrayTypes} from './pglite-array-types.js'
import {pgliteDriver} from './pglite.js'
import {packDirectory} from './tar.js'

/**
 * Where `npm run build` puts the prebuilt database (scripts/build-pglite-template.mjs):
 * `<package root>/dist/pglite-template.tar.gz`. The same relative path works from
 * `src/lib/gateway/store/` (tsx, vitest) and `dist/lib/gateway/store/`.
 */
export function defaultTemplatePath(): string {
  return fileURLToPath(new URL('../../../../dist/pglite-template.tar.gz', import.meta.url))
}

/**
 * Files of the database directory the template leaves out. A fresh data dir is restored file
 * by file, and creating files is most of its cost, so the template holds only what PostgreSQL
 * needs:
 * - `*_fsm`, `*_vm`: the free space and visibility maps, hints PostgreSQL treats as empty when
 *   missing and rebuilds itself (VACUUM, or as rows are written);
 * - `postmaster.pid`: a lock file of the build's own server.
 */
export function leftOutOfTemplate(relative: string, isDirectory: boolean): boolean {
  if (isDirectory) return false
  return /_(fsm|vm)$/.test(relative) || relative === 'postmaster.pid'
}

const gzipAsync = promisify(gzip)

/**
 * A PGlite database with every migration applied, as a gzipped tarball of its data directory
 * (restored by tar.ts's restoreTemplate). Runs initdb: seconds and ~800 MB, so do it at build
 * time. The database is closed cleanly before it is packed, so a restored copy starts without
 * crash recovery. `template0` and `template1` are dropped: PGlite only ever connects to
 * `postgres`, and the embedded database never runs CREATE DATABASE (it would fail for want of
 * a template); a third less to restore on every first boot. The list of array types goes
 * along (see pglite-array-types.ts).
 */
/** Bumped whenever buildPgliteTemplate makes a different kind of archive (caches key on it). */
export const TEMPLATE_FORMAT = 3

export async function buildPgliteTemplate(migrations: readonly Migration[] = MIGRATIONS): Promise<Buffer> {
  const {PGlite} = await import('@electric-sql/pglite')
  const work = await mkdtemp(path.join(os.tmpdir(), 'lobu-pglite-template-'))
  try {
    const pgdata = path.join(work, 'pgdata')
    const db = await PGlite.create({dataDir: pgdata})
    let arrayTypes
    try {
      await migrate(pgliteDriver(db, 'template'), migrations)
      // DROP DATABASE refuses a template database, and a transaction block (one exec each).
      for (const name of ['template0', 'template1']) {
        await db.exec(`UPDATE pg_database SET datistemplate = false WHERE datname = '${name}'`)
        await db.exec(`DROP DATABASE ${name}`)
      }
      arrayTypes = await queryArrayTypes(db)
      await db.exec('CHECKPOINT')
    } finally {
      await db.close()
    }
    await writeFile(path.join(pgdata, ARRAY_TYPES_FILE), arrayTypesFileContent(arrayTypes), {mode: 0o600})
    return await gzipAsync(packDirectory(pgdata, leftOutOfTemplate), {level: 9})
  } finally {
    await rm(work, {recursive: true, force: true})
  }
}

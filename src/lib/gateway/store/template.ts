import {fileURLToPath} from 'node:url'

import type {Migration} from './migrations.js'
import {MIGRATIONS} from './migrations.js'
import {migrate} from './migrate.js'
import {pgliteDriver} from './pglite.js'

/**
 * Where `npm run build` puts the prebuilt database (scripts/build-pglite-template.mjs):
 * `<package root>/dist/pglite-template.tar.gz`. The same relative path works from
 * `src/lib/gateway/store/` (tsx, vitest) and `dist/lib/gateway/store/`.
 */
export function defaultTemplatePath(): string {
  return fileURLToPath(new URL('../../../../dist/pglite-template.tar.gz', import.meta.url))
}

/**
 * A PGlite database with every migration applied, as the gzipped tarball of PGlite's
 * `dumpDataDir()`. Runs initdb in memory: seconds and ~800 MB, so do it at build time.
 */
export async function buildPgliteTemplate(migrations: readonly Migration[] = MIGRATIONS): Promise<Buffer> {
  const {PGlite} = await import('@electric-sql/pglite')
  const db = await PGlite.create()
  try {
    await migrate(pgliteDriver(db, 'template'), migrations)
    await db.exec('CHECKPOINT')
    const blob = await db.dumpDataDir('gzip')
    return Buffer.from(await blob.arrayBuffer())
  } finally {
    await db.close()
  }
}

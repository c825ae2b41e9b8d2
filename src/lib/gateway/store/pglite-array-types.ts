/**
 * PGlite's array types without its start-up query.
 *
 * When PGlite starts it asks the catalog which types have an array type and installs an array
 * parser/serializer for each (so `text[]` parameters and results work). On a cold catalog that
 * first query costs ~70–100 ms of every boot. The answer depends only on the database, so it is
 * kept in the data dir (ARRAY_TYPES_FILE, written by the template build and after the first
 * boot of any other data dir) and installed from there, keyed by PGlite's version. PostgreSQL
 * ignores files it does not know in its data directory.
 *
 * Node built-ins only at runtime (PGlite's types come in as an argument).
 */
import {readFileSync, renameSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'

import type {PGlite, types as pgliteTypes} from '@electric-sql/pglite'

/** Beside PG_VERSION in the database directory. */
export const ARRAY_TYPES_FILE = 'lobu-array-types.json'

/** [element type oid, its array type oid] */
export type ArrayTypes = Array<[number, number]>

interface ArrayTypesFile {
  pglite: string
  arrayTypes: ArrayTypes
}

let version: string | undefined

/** The installed PGlite's version (its package.json: the package does not export it). */
export function pgliteVersion(): string {
  if (version === undefined) {
    const require = createRequire(import.meta.url)
    const main = require.resolve('@electric-sql/pglite') // <package>/dist/index.cjs
    version = String((JSON.parse(readFileSync(path.join(path.dirname(main), '..', 'package.json'), 'utf8')) as {version: unknown}).version)
  }
  return version
}

/** Every type that has an array type, from the catalog. */
export async function queryArrayTypes(db: PGlite): Promise<ArrayTypes> {
  const rows = (await db.query<{elem: number; arr: number}>('SELECT oid::int4 AS elem, typarray::int4 AS arr FROM pg_catalog.pg_type WHERE typarray <> 0 ORDER BY oid')).rows
  return rows.map((r) => [Number(r.elem), Number(r.arr)])
}

/** The list stored in a database directory, when it was made by this PGlite version. */
export function readArrayTypes(pgdata: string): ArrayTypes | undefined {
  try {
    const file = JSON.parse(readFileSync(path.join(pgdata, ARRAY_TYPES_FILE), 'utf8')) as Partial<ArrayTypesFile>
    if (file.pglite !== pgliteVersion() || !Array.isArray(file.arrayTypes) || file.arrayTypes.length === 0) return undefined
    const ok = file.arrayTypes.every((p) => Array.isArray(p) && p.length === 2 && p.every((n) => Number.isInteger(n) && n > 0))
    return ok ? file.arrayTypes : undefined
  } catch {
    return undefined
  }
}

export function arrayTypesFileContent(arrayTypes: ArrayTypes): string {
  return JSON.stringify({pglite: pgliteVersion(), arrayTypes} satisfies ArrayTypesFile)
}

/** Store the list in a database directory (best effort: the next boot just asks again). */
export function writeArrayTypes(pgdata: string, arrayTypes: ArrayTypes): void {
  const target = path.join(pgdata, ARRAY_TYPES_FILE)
  const tmp = `${target}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, arrayTypesFileContent(arrayTypes), {mode: 0o600})
    renameSync(tmp, target)
  } catch {
    // A read-only data dir still works.
  }
}

/** Install the array parsers and serializers, as PGlite does from its own query. */
export function installArrayTypes(db: PGlite, arrayTypes: ArrayTypes, types: typeof pgliteTypes): void {
  for (const [elem, arr] of arrayTypes) {
    db.serializers[arr] = (x) => types.arraySerializer(x, db.serializers[elem], arr)
    db.parsers[arr] = (x) => types.arrayParser(x, db.parsers[elem], arr)
  }
}

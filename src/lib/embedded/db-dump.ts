import {existsSync} from 'node:fs'
import path from 'node:path'

import {LobuError, UsageError} from '../core/errors.js'
import type {Driver, TxSql} from '../gateway/store/driver.js'
import {CREATE_MIGRATIONS_TABLE} from '../gateway/store/migrate.js'
import {MIGRATIONS, LATEST_SCHEMA_VERSION} from '../gateway/store/migrations.js'
import {acquireDataDirLock} from '../gateway/store/lock.js'
import {openPgliteDriver, PGDATA_DIR} from '../gateway/store/pglite.js'
import {SchemaTooNewError} from '../gateway/store/migrate.js'

/**
 * `lobu db dump`: a local (PGlite) data dir as plain SQL that `psql` restores into an empty
 * PostgreSQL 15+ database.
 *
 * PGlite's own pg_dump (@electric-sql/pglite-tools) pins one exact PGlite version that is not
 * ours, so the dump is our own: the schema is the migrations the data dir has applied (the same
 * SQL a gateway runs at boot, PostgreSQL 15 compatible by rule), then every table's rows in
 * foreign-key order, then the sequences. Every value is read as PostgreSQL's own text form
 * (`col::text`) and written as a string literal that PostgreSQL casts back to the column's type
 * on INSERT, so no type (jsonb, text[], timestamptz with microseconds, bigint, boolean) goes
 * through a JavaScript value on the way. The whole restore is one transaction.
 *
 * The data dir is taken under the gateway lock (refused while a `lobu run` holds it), and read
 * in one READ ONLY transaction: nothing is migrated or written.
 */

/** Rows read per query: bounds the memory of a dump of a large session log. */
const BATCH = 500

/** A string as a PostgreSQL string literal (standard_conforming_strings on, as the dump sets). */
export function sqlLiteral(value: string | null): string {
  if (value === null) return 'NULL'
  if (value.includes('\u0000')) throw new Error('a PostgreSQL text value cannot hold U+0000')
  return `'${value.replaceAll("'", "''")}'`
}

/** An identifier, always quoted. */
export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** Tables ordered so that every table comes after those its foreign keys reference (then by name). */
export function dependencyOrder(tables: readonly string[], fks: ReadonlyArray<{child: string; parent: string}>): string[] {
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set()]))
  for (const {child, parent} of fks) if (child !== parent && parents.has(child) && parents.has(parent)) parents.get(child)!.add(parent)
  const out: string[] = []
  const placed = new Set<string>()
  const pending = [...tables].sort()
  while (pending.length > 0) {
    const index = pending.findIndex((t) => [...parents.get(t)!].every((p) => placed.has(p)))
    if (index < 0) throw new Error(`foreign keys form a cycle among ${pending.join(', ')}`)
    const [next] = pending.splice(index, 1)
    out.push(next!)
    placed.add(next!)
  }
  return out
}

export interface DumpSummary {
  dataDir: string
  schemaVersion: number
  tables: Array<{name: string; rows: number}>
}

export interface DumpOptions {
  dataDir: string
  /** Receives the SQL in order; awaited (backpressure). */
  write: (chunk: string) => Promise<void> | void
  /** For the header comment; default now. */
  now?: Date
}

/** Dump the data dir's database as SQL through `write`. */
export async function dumpDataDir(opts: DumpOptions): Promise<DumpSummary> {
  const dir = path.resolve(opts.dataDir)
  if (!existsSync(path.join(dir, PGDATA_DIR))) {
    throw new UsageError(`no lobu database in ${dir}`, {
      code: 'DATA_DIR_INVALID',
      hint: 'Pass the data dir `lobu run` uses (--data-dir, else $LOBU_DATA_DIR, else <project>/.lobu/data).',
    })
  }
  const lock = await acquireDataDirLock(dir)
  try {
    const {driver} = await openPgliteDriver(dir, {templatePath: null})
    try {
      return await dumpDriver(driver, dir, opts)
    } finally {
      await driver.close()
    }
  } finally {
    await lock.release()
  }
}

interface Sequence {
  table: string
  column: string
  sequence: string
}

async function dumpDriver(driver: Driver, dir: string, opts: DumpOptions): Promise<DumpSummary> {
  return driver.transaction(async (sql) => {
    await sql.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
    const versions = await appliedMigrations(sql)
    const newest = Math.max(0, ...versions)
    if (newest > LATEST_SCHEMA_VERSION) throw new SchemaTooNewError(newest, LATEST_SCHEMA_VERSION)
    const migrations = MIGRATIONS.filter((m) => versions.includes(m.version))

    const tables = (
      await sql.query<{name: string}>(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'`,
      )
    ).map((r) => r.name)
    const fks = await sql.query<{child: string; parent: string}>(
      `SELECT cc.relname AS child, pc.relname AS parent FROM pg_constraint k
         JOIN pg_class cc ON cc.oid = k.conrelid JOIN pg_class pc ON pc.oid = k.confrelid
         JOIN pg_namespace n ON n.oid = cc.relnamespace
       WHERE k.contype = 'f' AND n.nspname = 'public'`,
    )
    const columns = await sql.query<{table: string; column: string}>(
      `SELECT table_name AS "table", column_name AS "column" FROM information_schema.columns
       WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    )
    const keys = await sql.query<{table: string; column: string}>(
      `SELECT c.relname AS "table", a.attname AS "column" FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
       WHERE i.indisprimary AND n.nspname = 'public' ORDER BY c.relname, array_position(i.indkey, a.attnum)`,
    )
    const sequences = await sql.query<Sequence>(
      `SELECT t.relname AS "table", a.attname AS "column", s.relname AS "sequence" FROM pg_class s
         JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') AND d.classid = 'pg_class'::regclass
         JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
       WHERE s.relkind = 'S' AND n.nspname = 'public' ORDER BY s.relname`,
    )
    const columnsOf = groupBy(columns)
    const keyOf = groupBy(keys)

    await opts.write(
      [
        `-- lobu database dump of ${dir.replaceAll('\n', ' ')}, schema version ${newest}, ${(opts.now ?? new Date()).toISOString()}`,
        '-- Restore into an EMPTY PostgreSQL 15+ database, all or nothing:',
        '--   psql -v ON_ERROR_STOP=1 -d postgres://… -f this-file.sql',
        '-- Secrets and provider keys in it are encrypted with the install key of that data dir',
        '-- (its encryption.key): give a gateway on the restored database the same ENCRYPTION_KEY.',
        "SET client_encoding = 'UTF8';",
        'SET standard_conforming_strings = on;',
        "SET DateStyle = 'ISO, YMD';",
        'BEGIN;',
        '',
        '-- Schema: the migrations of this lobu version that the data dir had applied.',
        `${CREATE_MIGRATIONS_TABLE.trim()};`,
        ...migrations.map((m) => `\n-- migration ${m.version}: ${m.name}\n${m.sql.trim()}\n`),
        '',
      ].join('\n'),
    )

    const summary: DumpSummary = {dataDir: dir, schemaVersion: newest, tables: []}
    for (const table of dependencyOrder(tables, fks)) {
      const cols = columnsOf.get(table) ?? []
      const key = keyOf.get(table)?.length ? keyOf.get(table)! : cols
      const select = cols.map((c, i) => `${sqlIdent(c)}::text AS c${i}`).join(', ')
      const order = key.map((c) => sqlIdent(c)).join(', ')
      const insert = `INSERT INTO ${sqlIdent(table)} (${cols.map(sqlIdent).join(', ')}) VALUES `
      await opts.write(`\n-- ${table}\n`)
      let rows = 0
      for (;;) {
        const batch = await sql.query<Record<string, string | null>>(
          `SELECT ${select} FROM ${sqlIdent(table)} ORDER BY ${order} LIMIT ${BATCH} OFFSET ${rows}`,
        )
        if (batch.length === 0) break
        await opts.write(batch.map((row) => `${insert}(${cols.map((_, i) => sqlLiteral(row[`c${i}`] ?? null)).join(', ')});\n`).join(''))
        rows += batch.length
        if (batch.length < BATCH) break
      }
      summary.tables.push({name: table, rows})
    }

    const setvals: string[] = []
    for (const s of sequences) {
      const [state] = await sql.query<{last: string; called: boolean}>(
        `SELECT last_value::text AS last, is_called AS called FROM ${sqlIdent(s.sequence)}`,
      )
      if (!state) continue
      setvals.push(
        `SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence(${sqlLiteral(sqlIdent(s.table))}, ${sqlLiteral(s.column)}), ${state.last}, ${state.called});`,
      )
    }
    await opts.write(`\n-- sequences\n${setvals.join('\n')}\n\nCOMMIT;\n`)
    return summary
  })
}

async function appliedMigrations(sql: TxSql): Promise<number[]> {
  const [exists] = await sql.query<{found: boolean}>(`SELECT to_regclass('public.schema_migrations') IS NOT NULL AS found`)
  if (!exists?.found) throw new LobuError('the data dir holds no lobu schema (no schema_migrations table)', 'failed', {code: 'DATA_DIR_INVALID'})
  return (await sql.query<{version: number}>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r.version))
}

function groupBy(rows: ReadonlyArray<{table: string; column: string}>): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const r of rows) {
    const list = out.get(r.table) ?? []
    list.push(r.column)
    out.set(r.table, list)
  }
  return out
}

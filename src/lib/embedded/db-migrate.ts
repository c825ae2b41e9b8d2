import {existsSync} from 'node:fs'
import path from 'node:path'

import {LobuError, UsageError} from '../core/errors.js'
import {KEY_FILE, resolveInstallKey} from '../gateway/crypto/install-key.js'
import {redactDatabaseUrl} from '../gateway/store/postgres.js'
import {dumpDataDir, sqlIdent} from './db-dump.js'

/**
 * `lobu db migrate --to postgres://…`: copy a local data dir into an EMPTY PostgreSQL database.
 * The dump of db-dump.ts is run there statement batch by statement batch inside its own single
 * transaction (all or nothing), then the row count of every table is compared with what was
 * read. Secrets are copied as they are stored: encrypted with the install key, which the caller
 * prints for the target's gateway (its ENCRYPTION_KEY).
 */
export interface MigrateResult {
  dataDir: string
  target: string
  schemaVersion: number
  tables: Array<{name: string; rows: number}>
  /** The install key (base64) the target's gateway needs as ENCRYPTION_KEY; undefined when the data dir has none. */
  encryptionKey?: string
}

export async function migrateDataDir(opts: {dataDir: string; to: string; env?: NodeJS.ProcessEnv}): Promise<MigrateResult> {
  if (!/^postgres(?:ql)?:\/\//.test(opts.to)) {
    throw new UsageError('--to must be a postgres:// URL', {hint: 'Example: lobu db migrate --to postgres://lobu@127.0.0.1/lobu'})
  }
  const target = redactDatabaseUrl(opts.to)
  const pg = (await import('pg')).default
  const client = new pg.Client({connectionString: opts.to})
  try {
    await client.connect()
  } catch (err) {
    throw new LobuError(`cannot connect to ${target}: ${(err as Error).message}`, 'failed', {code: 'DATABASE_UNREACHABLE', hint: 'Check the URL, and that the server runs and accepts this user.'})
  }
  client.on('error', () => {}) // a dropped connection fails the query under way
  try {
    const {rows} = await client.query<{n: number}>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')`,
    )
    if ((rows[0]?.n ?? 0) > 0) {
      throw new UsageError(`${target} is not empty (its public schema has ${rows[0]!.n} tables, views or sequences)`, {
        code: 'TARGET_NOT_EMPTY',
        hint: 'Create an empty database for it (createdb lobu) and pass its URL.',
      })
    }
    let inTransaction = false
    let summary
    try {
      summary = await dumpDataDir({
        dataDir: opts.dataDir,
        write: async (chunk) => {
          inTransaction ||= /^BEGIN;$/m.test(chunk)
          await client.query(chunk)
        },
      })
    } catch (err) {
      if (inTransaction) await client.query('ROLLBACK').catch(() => {})
      throw err
    }
    const mismatched: string[] = []
    for (const t of summary.tables) {
      const {rows: counted} = await client.query<{n: string}>(`SELECT count(*)::text AS n FROM ${sqlIdent(t.name)}`)
      if (Number(counted[0]?.n) !== t.rows) mismatched.push(`${t.name}: ${t.rows} read, ${counted[0]?.n} in ${target}`)
    }
    if (mismatched.length > 0) throw new LobuError(`row counts differ after the copy: ${mismatched.join('; ')}`, 'failed', {code: 'MIGRATE_MISMATCH'})
    return {dataDir: summary.dataDir, target, schemaVersion: summary.schemaVersion, tables: summary.tables, encryptionKey: await installKeyOf(summary.dataDir, opts.env)}
  } finally {
    await client.end().catch(() => {})
  }
}

/** The key the local gateway encrypts with: ENCRYPTION_KEY if set, else the data dir's key file (never created here). */
async function installKeyOf(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (!env.ENCRYPTION_KEY && !existsSync(path.join(dataDir, KEY_FILE))) return undefined
  return (await resolveInstallKey({env, dataDir})).key.toString('base64')
}

import {GatewayError} from '../errors.js'
import {type Driver, sqlState} from './driver.js'
import {type Migration, MIGRATIONS} from './migrations.js'

/** Key of the advisory lock that serialises migrations across gateways sharing one server. */
const MIGRATION_LOCK_KEY = 0x6c6f6275 // "lobu"
/** SQLSTATE 42P01: relation does not exist. */
const UNDEFINED_TABLE = '42P01'

export const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
)`

export class SchemaTooNewError extends GatewayError {
  constructor(
    readonly databaseVersion: number,
    readonly supportedVersion: number,
  ) {
    super(
      `the database schema is at version ${databaseVersion}, newer than this lobu supports (${supportedVersion})`,
      {code: 'SCHEMA_TOO_NEW', hint: 'Upgrade lobu (npm install -g lobu@latest), or point it at another data dir / DATABASE_URL.'},
    )
  }
}

function checkList(migrations: readonly Migration[]): void {
  let previous = 0
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= previous) {
      throw new Error(`migrations must have strictly increasing integer versions (got ${m.version} after ${previous})`)
    }
    previous = m.version
  }
}

/** The versions already applied: one query on a current database (none yet: the table is missing). */
async function appliedVersions(driver: Driver): Promise<Set<number>> {
  try {
    const rows = await driver.query<{version: number}>('SELECT version FROM schema_migrations')
    return new Set(rows.map((r) => Number(r.version)))
  } catch (err) {
    if (sqlState(err) === UNDEFINED_TABLE) return new Set()
    throw err
  }
}

/**
 * Apply every pending migration, each in its own transaction. Safe when several gateways
 * boot against one PostgreSQL at once: each transaction first takes a transaction-scoped
 * advisory lock, then re-checks whether another process applied the migration meanwhile.
 * A database that is already current costs one small query. Returns the versions applied.
 */
export async function migrate(driver: Driver, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  checkList(migrations)
  const latest = migrations.at(-1)?.version ?? 0
  const applied = await appliedVersions(driver)
  const newest = Math.max(0, ...applied)
  if (newest > latest) throw new SchemaTooNewError(newest, latest)

  const done: number[] = []
  for (const m of migrations) {
    if (applied.has(m.version)) continue
    const ran = await driver.transaction(async (sql) => {
      await sql.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`)
      await sql.exec(CREATE_MIGRATIONS_TABLE)
      const already = await sql.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version])
      if (already.length > 0) return false
      await sql.exec(m.sql)
      await sql.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
      return true
    })
    if (ran) done.push(m.version)
  }
  return done
}

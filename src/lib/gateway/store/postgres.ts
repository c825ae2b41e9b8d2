import type {Pool, PoolClient} from 'pg'

import type {Driver, TxSql} from './driver.js'

/** The URL for banners and errors: the password never leaves this function. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return 'postgres://(unparseable URL)'
  }
}

const INT8_OID = 20

/** A PostgreSQL server through a `pg` Pool. */
export async function openPostgresDriver(databaseUrl: string): Promise<Driver> {
  const pg = (await import('pg')).default
  // int8 (count(*), bigserial) as a number when it fits, like PGlite does; else as a string.
  const getTypeParser = ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID && format !== 'binary') {
      return (value: string) => {
        const n = Number(value)
        return Number.isSafeInteger(n) ? n : value
      }
    }
    return pg.types.getTypeParser(oid, format)
  }) as typeof pg.types.getTypeParser

  const pool: Pool = new pg.Pool({
    connectionString: databaseUrl,
    application_name: 'lobu',
    max: 10,
    types: {getTypeParser},
  })
  // An idle client losing its connection must not crash the process: the next query reports it.
  pool.on('error', () => {})

  const description = redactDatabaseUrl(databaseUrl)
  // Fail now, with the URL (never its password), rather than at the first request.
  try {
    const client = await pool.connect()
    client.release()
  } catch (err) {
    await pool.end().catch(() => {})
    const reason = err instanceof Error ? err.message : String(err)
    throw Object.assign(new Error(`cannot connect to PostgreSQL at ${description}: ${reason}`), {cause: err})
  }

  const clientSql = (client: PoolClient): TxSql => ({
    async query<R>(text: string, params?: unknown[]) {
      return (await client.query(text, params as unknown[] | undefined)).rows as R[]
    },
    async exec(script: string) {
      await client.query(script)
    },
  })

  return {
    kind: 'postgres',
    description,
    async query<R>(text: string, params?: unknown[]) {
      return (await pool.query(text, params as unknown[] | undefined)).rows as R[]
    },
    async exec(script: string) {
      await pool.query(script)
    },
    async transaction<T>(fn: (sql: TxSql) => Promise<T>): Promise<T> {
      const client = await pool.connect()
      let broken: Error | undefined
      try {
        await client.query('BEGIN')
        try {
          const result = await fn(clientSql(client))
          await client.query('COMMIT')
          return result
        } catch (err) {
          try {
            await client.query('ROLLBACK')
          } catch (rollbackErr) {
            // The connection is unusable: destroy it instead of returning it to the pool.
            broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr))
          }
          throw err
        }
      } finally {
        client.release(broken)
      }
    },
    async close() {
      await pool.end()
    },
  }
}

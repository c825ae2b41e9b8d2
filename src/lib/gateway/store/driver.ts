import type {Sql} from './types.js'

/** Sql inside a transaction, plus multi-statement scripts (used by migrations). */
export interface TxSql extends Sql {
  exec(script: string): Promise<void>
}

/**
 * What the store needs from a database: the SAME SQL runs on both drivers (PGlite and a
 * `pg` Pool). `transaction` hands fn a connection-bound TxSql; BEGIN/COMMIT/ROLLBACK are
 * the driver's business.
 */
export interface Driver {
  readonly kind: 'pglite' | 'postgres'
  readonly description: string
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>
  exec(script: string): Promise<void>
  transaction<T>(fn: (sql: TxSql) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** SQLSTATE of an error thrown by either driver (`23505` unique violation, …). */
export function sqlState(err: unknown): string | undefined {
  const code = (err as {code?: unknown} | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/** True for a unique-constraint violation (e.g. an org slug or token hash already taken). */
export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505'
}

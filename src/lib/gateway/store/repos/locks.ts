import type {LockRepo, Sql} from '../types.js'

/**
 * Transaction-scoped advisory locks (released at commit or rollback), which serialise work of
 * gateways sharing one PostgreSQL database. Every key in one place, so that none collide; the
 * migrations take their own before the repositories exist (store/migrate.ts).
 */
const BOOTSTRAP_LOCK_KEY = 7_343_171

export function lockRepo(sql: Sql): LockRepo {
  return {
    async bootstrap() {
      await sql.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY])
    },
    /** Keyed by the org, hashed by the server. */
    async applyOrg(orgId) {
      await sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`lobu:apply:${orgId}`])
    },
  }
}

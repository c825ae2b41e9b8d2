import {newId} from '../ids.js'
import type {Sql, TokenRepo, TokenRow} from '../types.js'
import {type Raw, first, toDate, toDateOrNull} from './rows.js'

const COLUMNS = 'id, org_id, user_id, name, token_hash, scopes, expires_at, last_used_at, revoked_at, created_at'

function toToken(r: Raw): TokenRow {
  return {
    id: String(r.id),
    orgId: String(r.org_id),
    userId: String(r.user_id),
    name: String(r.name),
    tokenHash: String(r.token_hash),
    scopes: Array.isArray(r.scopes) ? r.scopes.map(String) : [],
    expiresAt: toDateOrNull(r.expires_at),
    lastUsedAt: toDateOrNull(r.last_used_at),
    revokedAt: toDateOrNull(r.revoked_at),
    createdAt: toDate(r.created_at),
  }
}

/** Tokens are stored by SHA-256 hash only (S1); `tokenHash` must be 64 lowercase hex characters. */
export function tokenRepo(sql: Sql): TokenRepo {
  return {
    async create({orgId, userId, name, tokenHash, scopes, expiresAt}) {
      const rows = await sql.query<Raw>(
        `INSERT INTO tokens (id, org_id, user_id, name, token_hash, scopes, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6::text[], $7) RETURNING ${COLUMNS}`,
        [newId('tok'), orgId, userId, name, tokenHash, scopes, expiresAt],
      )
      return toToken(rows[0]!)
    },
    async findByHash(tokenHash) {
      const row = first(await sql.query<Raw>(`SELECT ${COLUMNS} FROM tokens WHERE token_hash = $1`, [tokenHash]))
      return row && toToken(row)
    },
    async touch(id, at) {
      await sql.query('UPDATE tokens SET last_used_at = $2 WHERE id = $1', [id, at])
    },
    async listForUser(orgId, userId) {
      const rows = await sql.query<Raw>(
        `SELECT ${COLUMNS} FROM tokens WHERE org_id = $1 AND user_id = $2 ORDER BY created_at, id`,
        [orgId, userId],
      )
      return rows.map(toToken)
    },
    async revoke(orgId, userId, id) {
      // Revoking twice keeps the first revocation time and still reports a match.
      const rows = await sql.query<Raw>(
        `UPDATE tokens SET revoked_at = COALESCE(revoked_at, now())
         WHERE org_id = $1 AND user_id = $2 AND id = $3 RETURNING id`,
        [orgId, userId, id],
      )
      return rows.length > 0
    },
  }
}

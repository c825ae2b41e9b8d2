import {newId} from '../ids.js'
import type {MemberRole, Sql, TokenRepo, TokenRow, TokenWithOwner} from '../types.js'
import {type Raw, first, toDate, toDateOrNull, toStringOrNull} from './rows.js'

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

const WITH_OWNER = `
SELECT t.id, t.org_id, t.user_id, t.name, t.token_hash, t.scopes, t.expires_at, t.last_used_at, t.revoked_at, t.created_at,
       u.email AS user_email, u.name AS user_name, u.is_admin AS user_is_admin, u.created_at AS user_created_at,
       o.slug AS org_slug, o.name AS org_name, o.created_at AS org_created_at,
       m.role AS member_role
FROM tokens t
JOIN users u ON u.id = t.user_id
JOIN orgs o ON o.id = t.org_id
JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id
WHERE t.token_hash = $1`

function toTokenWithOwner(r: Raw): TokenWithOwner {
  const token = toToken(r)
  return {
    token,
    user: {id: token.userId, email: toStringOrNull(r.user_email), name: String(r.user_name), isAdmin: r.user_is_admin === true, createdAt: toDate(r.user_created_at)},
    org: {id: token.orgId, slug: String(r.org_slug), name: String(r.org_name), createdAt: toDate(r.org_created_at)},
    role: String(r.member_role) as MemberRole,
  }
}

/** Tokens are stored by SHA-256 hash only (docs/SECURITY.md S1); `tokenHash` must be 64 lowercase hex characters. */
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
    async findWithOwner(tokenHash) {
      const row = first(await sql.query<Raw>(WITH_OWNER, [tokenHash]))
      return row && toTokenWithOwner(row)
    },
    async touchStale(ids, at, staleBefore) {
      if (ids.length === 0) return
      await sql.query('UPDATE tokens SET last_used_at = $2 WHERE id = ANY($1::text[]) AND (last_used_at IS NULL OR last_used_at <= $3)', [
        [...ids],
        at,
        staleBefore,
      ])
    },
  }
}

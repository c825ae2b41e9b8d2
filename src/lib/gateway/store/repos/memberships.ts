import type {MemberRole, MembershipRepo, MembershipRow, Sql} from '../types.js'
import {type Raw, first, toDate, toStringOrNull} from './rows.js'

const COLUMNS = 'org_id, user_id, role, created_at'

function toMembership(r: Raw): MembershipRow {
  return {orgId: String(r.org_id), userId: String(r.user_id), role: r.role as MemberRole, createdAt: toDate(r.created_at)}
}

export function membershipRepo(sql: Sql): MembershipRepo {
  return {
    async upsert({orgId, userId, role}) {
      const rows = await sql.query<Raw>(
        `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role
         RETURNING ${COLUMNS}`,
        [orgId, userId, role],
      )
      return toMembership(rows[0]!)
    },
    async get(orgId, userId) {
      const row = first(
        await sql.query<Raw>(`SELECT ${COLUMNS} FROM memberships WHERE org_id = $1 AND user_id = $2`, [orgId, userId]),
      )
      return row && toMembership(row)
    },
    async listForUser(userId) {
      const rows = await sql.query<Raw>(`SELECT ${COLUMNS} FROM memberships WHERE user_id = $1 ORDER BY created_at, org_id`, [
        userId,
      ])
      return rows.map(toMembership)
    },
    async listForOrg(orgId) {
      const rows = await sql.query<Raw>(`SELECT ${COLUMNS} FROM memberships WHERE org_id = $1 ORDER BY created_at, user_id`, [
        orgId,
      ])
      return rows.map(toMembership)
    },
    async listMembers(orgId) {
      const rows = await sql.query<Raw>(
        `SELECT m.org_id, m.user_id, m.role, m.created_at, u.email, u.name
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 ORDER BY m.created_at, m.user_id`,
        [orgId],
      )
      return rows.map((r) => ({...toMembership(r), email: toStringOrNull(r.email), name: String(r.name)}))
    },
    async remove(orgId, userId) {
      const rows = await sql.query<Raw>('DELETE FROM memberships WHERE org_id = $1 AND user_id = $2 RETURNING user_id', [orgId, userId])
      return rows.length > 0
    },
    async lockOwners(orgId) {
      const rows = await sql.query<Raw>('SELECT role FROM memberships WHERE org_id = $1 FOR UPDATE', [orgId])
      return rows.filter((r) => r.role === 'owner').length
    },
  }
}

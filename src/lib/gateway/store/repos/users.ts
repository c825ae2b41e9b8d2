import {newId} from '../ids.js'
import type {Sql, UserRepo, UserRow} from '../types.js'
import {type Raw, first, toDate, toStringOrNull} from './rows.js'

const COLUMNS = 'id, email, name, is_admin, password_hash, created_at'

export function toUser(r: Raw): UserRow {
  return {
    id: String(r.id),
    email: toStringOrNull(r.email),
    name: String(r.name),
    isAdmin: r.is_admin === true,
    passwordHash: toStringOrNull(r.password_hash),
    createdAt: toDate(r.created_at),
  }
}

/** Emails are unique and looked up case-insensitively; they are stored as given. */
export function userRepo(sql: Sql): UserRepo {
  return {
    async create({email, name, isAdmin = false, passwordHash = null}) {
      const rows = await sql.query<Raw>(
        `INSERT INTO users (id, email, name, is_admin, password_hash) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
        [newId('usr'), email, name, isAdmin, passwordHash],
      )
      return toUser(rows[0]!)
    },
    async getById(id) {
      const row = first(await sql.query<Raw>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]))
      return row && toUser(row)
    },
    async getByEmail(email) {
      const row = first(await sql.query<Raw>(`SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email]))
      return row && toUser(row)
    },
    async getFirstAdmin() {
      const row = first(
        await sql.query<Raw>(`SELECT ${COLUMNS} FROM users WHERE is_admin ORDER BY created_at, id LIMIT 1`),
      )
      return row && toUser(row)
    },
    async setPasswordHash(userId, passwordHash) {
      await sql.query('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash])
    },
  }
}

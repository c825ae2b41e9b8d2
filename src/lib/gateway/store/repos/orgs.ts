import {newId} from '../ids.js'
import type {OrgRepo, OrgRow, Sql} from '../types.js'
import {type Raw, first, toDate} from './rows.js'

const COLUMNS = 'id, slug, name, created_at'

export function toOrg(r: Raw): OrgRow {
  return {id: String(r.id), slug: String(r.slug), name: String(r.name), createdAt: toDate(r.created_at)}
}

export function orgRepo(sql: Sql): OrgRepo {
  return {
    async create({slug, name}) {
      const rows = await sql.query<Raw>(
        `INSERT INTO orgs (id, slug, name) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
        [newId('org'), slug, name],
      )
      return toOrg(rows[0]!)
    },
    async getById(id) {
      const row = first(await sql.query<Raw>(`SELECT ${COLUMNS} FROM orgs WHERE id = $1`, [id]))
      return row && toOrg(row)
    },
    async getBySlug(slug) {
      const row = first(await sql.query<Raw>(`SELECT ${COLUMNS} FROM orgs WHERE slug = $1`, [slug]))
      return row && toOrg(row)
    },
    async list() {
      const rows = await sql.query<Raw>(`SELECT ${COLUMNS} FROM orgs ORDER BY created_at, slug`)
      return rows.map(toOrg)
    },
  }
}

import type {SecretRepo, SecretRow, Sql} from '../types.js'
import {type Raw, first, toDate} from './rows.js'

const COLUMNS = 'org_id, name, ciphertext, keyed_hash, created_at, updated_at'

function toSecret(r: Raw): SecretRow {
  return {
    orgId: String(r.org_id),
    name: String(r.name),
    ciphertext: String(r.ciphertext),
    keyedHash: String(r.keyed_hash),
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  }
}

/**
 * Org secrets: AES-256-GCM ciphertexts and keyed hashes only (docs/SECURITY.md S6; see ../crypto). An upsert
 * with the same keyed hash (the same value) keeps the stored row as it is: the ciphertext
 * differs on every encryption, the value does not.
 */
export function secretRepo(sql: Sql): SecretRepo {
  const repo: SecretRepo = {
    async list(orgId) {
      const rows = await sql.query<Raw>(`SELECT ${COLUMNS} FROM secrets WHERE org_id = $1 ORDER BY name`, [orgId])
      return rows.map(toSecret)
    },
    async get(orgId, name) {
      const row = first(await sql.query<Raw>(`SELECT ${COLUMNS} FROM secrets WHERE org_id = $1 AND name = $2`, [orgId, name]))
      return row && toSecret(row)
    },
    async upsert({orgId, name, ciphertext, keyedHash}) {
      const rows = await sql.query<Raw>(
        `INSERT INTO secrets (org_id, name, ciphertext, keyed_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (org_id, name) DO UPDATE
           SET ciphertext = EXCLUDED.ciphertext, keyed_hash = EXCLUDED.keyed_hash, updated_at = now()
           WHERE secrets.keyed_hash IS DISTINCT FROM EXCLUDED.keyed_hash
         RETURNING ${COLUMNS}`,
        [orgId, name, ciphertext, keyedHash],
      )
      if (rows[0]) return toSecret(rows[0])
      const unchanged = await repo.get(orgId, name)
      if (!unchanged) throw new Error(`secret ${name} vanished during upsert`)
      return unchanged
    },
    async delete(orgId, name) {
      const rows = await sql.query<Raw>('DELETE FROM secrets WHERE org_id = $1 AND name = $2 RETURNING name', [orgId, name])
      return rows.length > 0
    },
  }
  return repo
}

import type {MetaRepo, Sql} from '../types.js'

export function metaRepo(sql: Sql): MetaRepo {
  return {
    async get(key) {
      const rows = await sql.query<{value: string}>('SELECT value FROM meta WHERE key = $1', [key])
      return rows[0]?.value
    },
    async set(key, value) {
      await sql.query(
        'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
        [key, value],
      )
    },
  }
}

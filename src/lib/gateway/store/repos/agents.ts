import type {AgentRepo, AgentRow, AgentSpec, Sql} from '../types.js'
import {type Raw, first, toDate, toJson, toStringOrNull} from './rows.js'

const COLUMNS = 'org_id, agent_id, spec, managed_by, created_at, updated_at'

function toAgent(r: Raw): AgentRow {
  return {
    orgId: String(r.org_id),
    agentId: String(r.agent_id),
    spec: toJson<AgentSpec>(r.spec),
    managedBy: toStringOrNull(r.managed_by),
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  }
}

/** Every query is scoped by org: agent ids are unique per org only (docs/SECURITY.md S4). */
export function agentRepo(sql: Sql): AgentRepo {
  const repo: AgentRepo = {
    async list(orgId) {
      const rows = await sql.query<Raw>(`SELECT ${COLUMNS} FROM agents WHERE org_id = $1 ORDER BY agent_id`, [orgId])
      return rows.map(toAgent)
    },
    async get(orgId, agentId) {
      const row = first(
        await sql.query<Raw>(`SELECT ${COLUMNS} FROM agents WHERE org_id = $1 AND agent_id = $2`, [orgId, agentId]),
      )
      return row && toAgent(row)
    },
    async upsert({orgId, agentId, spec, managedBy}) {
      // jsonb equality is semantic (key order does not matter). When nothing changed the
      // WHERE skips the update entirely: no new row version, updated_at untouched.
      const rows = await sql.query<Raw>(
        `INSERT INTO agents (org_id, agent_id, spec, managed_by) VALUES ($1, $2, $3::jsonb, $4)
         ON CONFLICT (org_id, agent_id) DO UPDATE
           SET spec = EXCLUDED.spec, managed_by = EXCLUDED.managed_by, updated_at = now()
           WHERE agents.spec IS DISTINCT FROM EXCLUDED.spec
              OR agents.managed_by IS DISTINCT FROM EXCLUDED.managed_by
         RETURNING ${COLUMNS}`,
        [orgId, agentId, JSON.stringify(spec), managedBy],
      )
      if (rows[0]) return toAgent(rows[0])
      const unchanged = await repo.get(orgId, agentId)
      if (!unchanged) throw new Error(`agent ${agentId} vanished during upsert`)
      return unchanged
    },
    async delete(orgId, agentId) {
      const rows = await sql.query<Raw>('DELETE FROM agents WHERE org_id = $1 AND agent_id = $2 RETURNING agent_id', [
        orgId,
        agentId,
      ])
      return rows.length > 0
    },
  }
  return repo
}

import type {BootstrapCheck, BootstrapRepo, ProviderSpec, Sql} from '../types.js'
import {toOrg} from './orgs.js'
import {toJson} from './rows.js'
import {toUser} from './users.js'

/**
 * One read that tells whether a boot has anything to write: the local admin, the local org and
 * the admin's role in it, the bootstrap version, and how many orgs lack a `default` agent with
 * exactly these system providers (jsonb equality ignores key order).
 */
const CHECK_SQL = `
WITH admin AS (
  SELECT id, email, name, is_admin, password_hash, created_at FROM users WHERE is_admin ORDER BY created_at, id LIMIT 1
), local_org AS (
  SELECT id, slug, name, created_at FROM orgs WHERE slug = $1
)
SELECT
  (SELECT value FROM meta WHERE key = $2) AS version,
  (SELECT row_to_json(admin) FROM admin) AS admin,
  (SELECT row_to_json(local_org) FROM local_org) AS org,
  (SELECT m.role FROM memberships m JOIN admin a ON m.user_id = a.id JOIN local_org o ON m.org_id = o.id) AS role,
  (SELECT count(*) FROM orgs o WHERE NOT EXISTS (
     SELECT 1 FROM agents g WHERE g.org_id = o.id AND g.agent_id = $3 AND g.spec -> 'providers' = $4::jsonb
  )) AS stale_orgs`

interface CheckRow {
  version: string | null
  admin: Record<string, unknown> | string | null
  org: Record<string, unknown> | string | null
  role: string | null
  stale_orgs: number | string
}

export function bootstrapRepo(sql: Sql): BootstrapRepo {
  return {
    async check(input: {localOrgSlug: string; versionKey: string; defaultAgentId: string; systemProviders: ProviderSpec[]}): Promise<BootstrapCheck> {
      const [row] = await sql.query<CheckRow>(CHECK_SQL, [input.localOrgSlug, input.versionKey, input.defaultAgentId, JSON.stringify(input.systemProviders)])
      return {
        version: row?.version ?? null,
        // row_to_json keeps the column names, so the repos' own row mappers apply.
        admin: row?.admin ? toUser(toJson(row.admin)) : undefined,
        org: row?.org ? toOrg(toJson(row.org)) : undefined,
        role: row?.role ?? null,
        staleOrgs: Number(row?.stale_orgs ?? 0),
      }
    },
  }
}

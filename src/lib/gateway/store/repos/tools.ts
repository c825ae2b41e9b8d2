/**
 * Tool grants and pending approvals (migration 4). Like sessionRepo, built over any Sql:
 * `toolRepo(store.sql)` or, in a transaction, `toolRepo(tx.sql)`. Every query takes the
 * caller's org and user.
 */
import type {Sql} from '../types.js'
import {type Raw, first, toDate} from './rows.js'

export type ApprovalDecision = 'once' | '1h' | '24h' | 'always' | 'deny'
/** What ends a wait without a user's decision. */
export type ApprovalEnd = 'timeout' | 'cancelled'

export interface ToolGrantRow {
  path: string
  /** null: `always`. */
  expiresAt: Date | null
  createdAt: Date
}

export interface PendingApproval {
  sessionKey: string
  callId: string
  orgId: string
  userId: string
  agentId: string
  server: string
  tool: string
  expiresAt: Date
}

export type ClaimResult =
  | {kind: 'claimed'; agentId: string; server: string; tool: string}
  | {kind: 'decided'}
  | {kind: 'missing'}

export interface ToolRepo {
  /** The user's grants for the agent that have not expired. */
  liveGrants(owner: {orgId: string; userId: string}, agentId: string, now?: Date): Promise<ToolGrantRow[]>
  upsertGrant(owner: {orgId: string; userId: string}, agentId: string, path: string, expiresAt: Date | null): Promise<void>
  /** Delete the user's grants of the agent with these paths; how many were deleted. */
  deleteGrants(owner: {orgId: string; userId: string}, agentId: string, paths: readonly string[]): Promise<number>
  /** Every grant of the user for the agent (expired ones included). */
  allGrants(owner: {orgId: string; userId: string}, agentId: string): Promise<ToolGrantRow[]>
  /** Record a call waiting for a decision (a stale row of the same call id in the session is replaced). */
  insertPending(p: PendingApproval): Promise<void>
  /**
   * Claim the decision of a pending call: only when the session is the caller's (org AND user),
   * the call is undecided and has not expired. `decided`: someone decided (or it ended) first;
   * `missing`: no such call for this caller.
   */
  claim(owner: {orgId: string; userId: string}, sessionKey: string, callId: string, decision: ApprovalDecision | ApprovalEnd): Promise<ClaimResult>
  /** Forget approvals whose wait ended before `before` (they are decided or denied by then). */
  pruneApprovals(before: Date): Promise<void>
  /** The decision of a call, or null while there is none. */
  decisionOf(sessionKey: string, callId: string): Promise<string | null | undefined>
}

export function toolRepo(sql: Sql): ToolRepo {
  return {
    async liveGrants({orgId, userId}, agentId, now = new Date()) {
      const rows = await sql.query<Raw>(
        `SELECT path, expires_at, created_at FROM tool_grants
         WHERE org_id = $1 AND user_id = $2 AND agent_id = $3 AND (expires_at IS NULL OR expires_at > $4)`,
        [orgId, userId, agentId, now],
      )
      return rows.map(toGrant)
    },
    async allGrants({orgId, userId}, agentId) {
      const rows = await sql.query<Raw>('SELECT path, expires_at, created_at FROM tool_grants WHERE org_id = $1 AND user_id = $2 AND agent_id = $3', [orgId, userId, agentId])
      return rows.map(toGrant)
    },
    async upsertGrant({orgId, userId}, agentId, path, expiresAt) {
      await sql.query(
        `INSERT INTO tool_grants (org_id, user_id, agent_id, path, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (org_id, user_id, agent_id, path) DO UPDATE SET expires_at = EXCLUDED.expires_at, created_at = now()`,
        [orgId, userId, agentId, path, expiresAt],
      )
    },
    async deleteGrants({orgId, userId}, agentId, paths) {
      if (paths.length === 0) return 0
      const rows = await sql.query<Raw>(
        'DELETE FROM tool_grants WHERE org_id = $1 AND user_id = $2 AND agent_id = $3 AND path = ANY($4::text[]) RETURNING path',
        [orgId, userId, agentId, [...paths]],
      )
      return rows.length
    },
    async insertPending(p) {
      await sql.query(
        `INSERT INTO tool_approvals (session_key, call_id, org_id, user_id, agent_id, server, tool, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (session_key, call_id) DO UPDATE SET
           org_id = EXCLUDED.org_id, user_id = EXCLUDED.user_id, agent_id = EXCLUDED.agent_id, server = EXCLUDED.server,
           tool = EXCLUDED.tool, decision = NULL, decided_at = NULL, expires_at = EXCLUDED.expires_at, created_at = now()`,
        [p.sessionKey, p.callId, p.orgId, p.userId, p.agentId, p.server, p.tool, p.expiresAt],
      )
    },
    async claim({orgId, userId}, sessionKey, callId, decision) {
      const ends = decision === 'timeout' || decision === 'cancelled'
      const claimed = first(
        await sql.query<Raw>(
          `UPDATE tool_approvals SET decision = $5, decided_at = now()
           WHERE session_key = $1 AND call_id = $2 AND org_id = $3 AND user_id = $4 AND decision IS NULL
             AND (${ends ? 'true' : 'expires_at > now()'})
           RETURNING agent_id, server, tool`,
          [sessionKey, callId, orgId, userId, decision],
        ),
      )
      if (claimed) return {kind: 'claimed', agentId: String(claimed.agent_id), server: String(claimed.server), tool: String(claimed.tool)}
      const row = first(
        await sql.query<Raw>('SELECT decision FROM tool_approvals WHERE session_key = $1 AND call_id = $2 AND org_id = $3 AND user_id = $4', [
          sessionKey,
          callId,
          orgId,
          userId,
        ]),
      )
      return row ? {kind: 'decided'} : {kind: 'missing'}
    },
    async pruneApprovals(before) {
      await sql.query('DELETE FROM tool_approvals WHERE expires_at < $1', [before])
    },
    async decisionOf(sessionKey, callId) {
      const row = first(await sql.query<Raw>('SELECT decision FROM tool_approvals WHERE session_key = $1 AND call_id = $2', [sessionKey, callId]))
      if (!row) return undefined
      return row.decision === null || row.decision === undefined ? null : String(row.decision)
    },
  }
}

function toGrant(r: Raw): ToolGrantRow {
  return {path: String(r.path), expiresAt: r.expires_at === null || r.expires_at === undefined ? null : toDate(r.expires_at), createdAt: toDate(r.created_at)}
}

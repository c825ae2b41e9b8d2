/**
 * OAuth tables (migration 3): device codes of `lobu oauth login`, failed-login counters, PKCE
 * flows in progress (`state`) and the users' grants (MCP OAuth tokens and provider API keys).
 *
 * Not part of StoreTx: build it over any Sql, `oauthRepo(store.sql)` or, inside a transaction,
 * `oauthRepo(tx.sql)`. Every lookup of a grant takes the caller's org AND user in the same
 * query (docs/SECURITY.md S4); device codes and states are found by the hash of a secret only their holder knows.
 * Values passed in as ciphertexts/hashes are stored as they are: nothing here sees a plaintext.
 */
import {newId} from '../ids.js'
import type {Sql} from '../types.js'
import {type Raw, first, toDate, toDateOrNull, toStringOrNull} from './rows.js'

// ---------- device codes ----------

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'consumed'

export interface DeviceCodeRow {
  id: string
  deviceCodeHash: string
  userCodeHash: string
  clientId: string
  scopes: string[]
  status: DeviceCodeStatus
  orgId: string | null
  userId: string | null
  intervalSeconds: number
  lastPolledAt: Date | null
  failedAttempts: number
  expiresAt: Date
  createdAt: Date
}

const DEVICE_COLUMNS =
  'id, device_code_hash, user_code_hash, client_id, scopes, status, org_id, user_id, interval_seconds, last_polled_at, failed_attempts, expires_at, created_at'

function toDeviceCode(r: Raw): DeviceCodeRow {
  return {
    id: String(r.id),
    deviceCodeHash: String(r.device_code_hash),
    userCodeHash: String(r.user_code_hash),
    clientId: String(r.client_id),
    scopes: Array.isArray(r.scopes) ? r.scopes.map(String) : [],
    status: String(r.status) as DeviceCodeStatus,
    orgId: toStringOrNull(r.org_id),
    userId: toStringOrNull(r.user_id),
    intervalSeconds: Number(r.interval_seconds),
    lastPolledAt: toDateOrNull(r.last_polled_at),
    failedAttempts: Number(r.failed_attempts),
    expiresAt: toDate(r.expires_at),
    createdAt: toDate(r.created_at),
  }
}

// ---------- PKCE states ----------

export interface OAuthStateRow {
  stateHash: string
  orgId: string
  userId: string
  agentId: string
  target: string
  /** Ciphertext of the PKCE verifier. */
  codeVerifier: string
  redirectUri: string
  expiresAt: Date
  createdAt: Date
}

const STATE_COLUMNS = 'state_hash, org_id, user_id, agent_id, target, code_verifier, redirect_uri, expires_at, created_at'

function toState(r: Raw): OAuthStateRow {
  return {
    stateHash: String(r.state_hash),
    orgId: String(r.org_id),
    userId: String(r.user_id),
    agentId: String(r.agent_id),
    target: String(r.target),
    codeVerifier: String(r.code_verifier),
    redirectUri: String(r.redirect_uri),
    expiresAt: toDate(r.expires_at),
    createdAt: toDate(r.created_at),
  }
}

// ---------- grants ----------

/** `mcp`: an OAuth grant for an MCP server of the agent; `provider`: the user's own API key (BYOK). */
export type GrantKind = 'mcp' | 'provider'
export type GrantStatus = 'active' | 'needs_reauth'

export interface GrantRow {
  id: string
  orgId: string
  userId: string
  agentId: string
  kind: GrantKind
  target: string
  /** Ciphertext. */
  accessToken: string
  /** Ciphertext, or null. */
  refreshToken: string | null
  scopes: string[]
  expiresAt: Date | null
  status: GrantStatus
  lastError: string | null
  refreshLeaseUntil: Date | null
  refreshedAt: Date | null
  createdAt: Date
  updatedAt: Date
}

export interface GrantOwner {
  orgId: string
  userId: string
}

export interface GrantKey extends GrantOwner {
  agentId: string
  kind: GrantKind
  target: string
}

const GRANT_COLUMNS =
  'id, org_id, user_id, agent_id, kind, target, access_token, refresh_token, scopes, expires_at, status, last_error, refresh_lease_until, refreshed_at, created_at, updated_at'

function toGrant(r: Raw): GrantRow {
  return {
    id: String(r.id),
    orgId: String(r.org_id),
    userId: String(r.user_id),
    agentId: String(r.agent_id),
    kind: String(r.kind) as GrantKind,
    target: String(r.target),
    accessToken: String(r.access_token),
    refreshToken: toStringOrNull(r.refresh_token),
    scopes: Array.isArray(r.scopes) ? r.scopes.map(String) : [],
    expiresAt: toDateOrNull(r.expires_at),
    status: String(r.status) === 'needs_reauth' ? 'needs_reauth' : 'active',
    lastError: toStringOrNull(r.last_error),
    refreshLeaseUntil: toDateOrNull(r.refresh_lease_until),
    refreshedAt: toDateOrNull(r.refreshed_at),
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  }
}

export interface GrantTokens {
  accessToken: string
  /** undefined keeps the stored refresh token (providers that do not rotate it). */
  refreshToken?: string | null
  scopes: string[]
  expiresAt: Date | null
}

// ---------- the repository ----------

export interface OAuthRepo {
  // Device codes.
  insertDeviceCode(input: {
    deviceCodeHash: string
    userCodeHash: string
    clientId: string
    scopes: string[]
    intervalSeconds: number
    expiresAt: Date
  }): Promise<DeviceCodeRow | undefined>
  deviceCodeByDeviceHash(deviceCodeHash: string, forUpdate?: boolean): Promise<DeviceCodeRow | undefined>
  deviceCodeByUserHash(userCodeHash: string): Promise<DeviceCodeRow | undefined>
  /** Record a poll; `intervalSeconds` is the (possibly raised) interval. */
  recordPoll(id: string, at: Date, intervalSeconds: number): Promise<void>
  /** pending → approved for (org, user); false when the code was not pending or has expired. */
  approveDeviceCode(id: string, orgId: string, userId: string, now: Date): Promise<boolean>
  /** pending → denied; false when it was not pending. */
  denyDeviceCode(id: string): Promise<boolean>
  /** approved → consumed (once); the row, or undefined when it was not approved. */
  consumeDeviceCode(id: string): Promise<DeviceCodeRow | undefined>
  /** Count a failed login on this code; returns the new count. */
  failDeviceCode(id: string): Promise<number>
  /** Forget device codes that expired before `before`. */
  pruneDeviceCodes(before: Date): Promise<void>
  /** Device codes still waiting for approval (not expired at `now`). */
  countPendingDeviceCodes(now: Date): Promise<number>

  // Attempt counters (keys are hashes): one atomic upsert counts an attempt and returns the
  // count of the current window (a window older than `windowStart` starts again at 1).
  countAttempt(key: string, now: Date, windowStart: Date): Promise<{count: number; windowStart: Date}>
  clearFailures(key: string): Promise<void>
  /** Forget counters whose window started before `before`. */
  pruneAttempts(before: Date): Promise<void>

  // PKCE states.
  insertState(input: Omit<OAuthStateRow, 'createdAt'>): Promise<void>
  /** Delete and return the state (single use): a second call finds nothing. */
  takeState(stateHash: string): Promise<OAuthStateRow | undefined>
  pruneStates(before: Date): Promise<void>

  // Grants.
  upsertGrant(input: GrantKey & GrantTokens & {refreshToken: string | null}): Promise<GrantRow>
  getGrant(key: GrantKey): Promise<GrantRow | undefined>
  getGrantById(owner: GrantOwner, id: string): Promise<GrantRow | undefined>
  listGrants(owner: GrantOwner, agentId?: string): Promise<GrantRow[]>
  deleteGrant(owner: GrantOwner, id: string): Promise<GrantRow | undefined>
  /** Take the refresh lease of a grant until `until`; false when another holder has it. */
  claimRefresh(id: string, now: Date, until: Date): Promise<boolean>
  /** Store refreshed tokens, clear the lease and the error, status active. */
  saveRefreshed(id: string, tokens: GrantTokens, now: Date): Promise<GrantRow | undefined>
  /** Mark needs_reauth (a refresh was refused), clear the lease. */
  markNeedsReauth(id: string, error: string): Promise<void>
  /** Release the lease after a transient failure, keeping the status. */
  releaseRefresh(id: string, error: string | null): Promise<void>
  /** System job: active refreshable MCP grants expiring before `before` (every org). */
  listDueForRefresh(before: Date, limit: number): Promise<GrantRow[]>
}

const ATTEMPT_UPSERT = `
INSERT INTO oauth_attempts (key, failures, window_start) VALUES ($1, 1, $2)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN oauth_attempts.window_start < $3 THEN 1 ELSE oauth_attempts.failures + 1 END,
  window_start = CASE WHEN oauth_attempts.window_start < $3 THEN $2 ELSE oauth_attempts.window_start END
RETURNING failures, window_start`

export function oauthRepo(sql: Sql): OAuthRepo {
  return {
    async insertDeviceCode({deviceCodeHash, userCodeHash, clientId, scopes, intervalSeconds, expiresAt}) {
      const row = first(
        await sql.query<Raw>(
          `INSERT INTO oauth_device_codes (id, device_code_hash, user_code_hash, client_id, scopes, interval_seconds, expires_at)
           VALUES ($1, $2, $3, $4, $5::text[], $6, $7)
           ON CONFLICT DO NOTHING
           RETURNING ${DEVICE_COLUMNS}`,
          [newId('dev'), deviceCodeHash, userCodeHash, clientId, scopes, intervalSeconds, expiresAt],
        ),
      )
      return row && toDeviceCode(row)
    },
    async deviceCodeByDeviceHash(hash, forUpdate = false) {
      const row = first(
        await sql.query<Raw>(`SELECT ${DEVICE_COLUMNS} FROM oauth_device_codes WHERE device_code_hash = $1${forUpdate ? ' FOR UPDATE' : ''}`, [hash]),
      )
      return row && toDeviceCode(row)
    },
    async deviceCodeByUserHash(hash) {
      const row = first(await sql.query<Raw>(`SELECT ${DEVICE_COLUMNS} FROM oauth_device_codes WHERE user_code_hash = $1`, [hash]))
      return row && toDeviceCode(row)
    },
    async recordPoll(id, at, intervalSeconds) {
      await sql.query('UPDATE oauth_device_codes SET last_polled_at = $2, interval_seconds = $3 WHERE id = $1', [id, at, intervalSeconds])
    },
    async approveDeviceCode(id, orgId, userId, now) {
      const rows = await sql.query<Raw>(
        `UPDATE oauth_device_codes SET status = 'approved', org_id = $2, user_id = $3
         WHERE id = $1 AND status = 'pending' AND expires_at > $4 RETURNING id`,
        [id, orgId, userId, now],
      )
      return rows.length > 0
    },
    async denyDeviceCode(id) {
      const rows = await sql.query<Raw>(`UPDATE oauth_device_codes SET status = 'denied' WHERE id = $1 AND status = 'pending' RETURNING id`, [id])
      return rows.length > 0
    },
    async consumeDeviceCode(id) {
      const row = first(
        await sql.query<Raw>(`UPDATE oauth_device_codes SET status = 'consumed' WHERE id = $1 AND status = 'approved' RETURNING ${DEVICE_COLUMNS}`, [id]),
      )
      return row && toDeviceCode(row)
    },
    async failDeviceCode(id) {
      const row = first(
        await sql.query<Raw>('UPDATE oauth_device_codes SET failed_attempts = failed_attempts + 1 WHERE id = $1 RETURNING failed_attempts', [id]),
      )
      return row ? Number(row.failed_attempts) : 0
    },
    async pruneDeviceCodes(before) {
      await sql.query('DELETE FROM oauth_device_codes WHERE expires_at < $1', [before])
    },
    async countPendingDeviceCodes(now) {
      const row = first(await sql.query<Raw>("SELECT count(*)::int AS n FROM oauth_device_codes WHERE status = 'pending' AND expires_at > $1", [now]))
      return row ? Number(row.n) : 0
    },

    async countAttempt(key, now, windowStart) {
      const row = first(await sql.query<Raw>(ATTEMPT_UPSERT, [key, now, windowStart]))
      return row ? {count: Number(row.failures), windowStart: toDate(row.window_start)} : {count: 1, windowStart: now}
    },
    async pruneAttempts(before) {
      await sql.query('DELETE FROM oauth_attempts WHERE window_start < $1', [before])
    },
    async clearFailures(key) {
      await sql.query('DELETE FROM oauth_attempts WHERE key = $1', [key])
    },

    async insertState({stateHash, orgId, userId, agentId, target, codeVerifier, redirectUri, expiresAt}) {
      await sql.query(
        `INSERT INTO oauth_states (state_hash, org_id, user_id, agent_id, target, code_verifier, redirect_uri, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [stateHash, orgId, userId, agentId, target, codeVerifier, redirectUri, expiresAt],
      )
    },
    async takeState(stateHash) {
      const row = first(await sql.query<Raw>(`DELETE FROM oauth_states WHERE state_hash = $1 RETURNING ${STATE_COLUMNS}`, [stateHash]))
      return row && toState(row)
    },
    async pruneStates(before) {
      await sql.query('DELETE FROM oauth_states WHERE expires_at < $1', [before])
    },

    async upsertGrant({orgId, userId, agentId, kind, target, accessToken, refreshToken, scopes, expiresAt}) {
      const rows = await sql.query<Raw>(
        `INSERT INTO oauth_grants (id, org_id, user_id, agent_id, kind, target, access_token, refresh_token, scopes, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], $10)
         ON CONFLICT (org_id, user_id, agent_id, kind, target) DO UPDATE SET
           access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token, scopes = EXCLUDED.scopes,
           expires_at = EXCLUDED.expires_at, status = 'active', last_error = NULL, refresh_lease_until = NULL,
           updated_at = now()
         RETURNING ${GRANT_COLUMNS}`,
        [newId('grt'), orgId, userId, agentId, kind, target, accessToken, refreshToken, scopes, expiresAt],
      )
      return toGrant(rows[0]!)
    },
    async getGrant({orgId, userId, agentId, kind, target}) {
      const row = first(
        await sql.query<Raw>(
          `SELECT ${GRANT_COLUMNS} FROM oauth_grants WHERE org_id = $1 AND user_id = $2 AND agent_id = $3 AND kind = $4 AND target = $5`,
          [orgId, userId, agentId, kind, target],
        ),
      )
      return row && toGrant(row)
    },
    async getGrantById({orgId, userId}, id) {
      const row = first(await sql.query<Raw>(`SELECT ${GRANT_COLUMNS} FROM oauth_grants WHERE id = $1 AND org_id = $2 AND user_id = $3`, [id, orgId, userId]))
      return row && toGrant(row)
    },
    async listGrants({orgId, userId}, agentId) {
      const rows =
        agentId === undefined
          ? await sql.query<Raw>(`SELECT ${GRANT_COLUMNS} FROM oauth_grants WHERE org_id = $1 AND user_id = $2 ORDER BY agent_id, kind, target`, [orgId, userId])
          : await sql.query<Raw>(
              `SELECT ${GRANT_COLUMNS} FROM oauth_grants WHERE org_id = $1 AND user_id = $2 AND agent_id = $3 ORDER BY kind, target`,
              [orgId, userId, agentId],
            )
      return rows.map(toGrant)
    },
    async deleteGrant({orgId, userId}, id) {
      const row = first(await sql.query<Raw>(`DELETE FROM oauth_grants WHERE id = $1 AND org_id = $2 AND user_id = $3 RETURNING ${GRANT_COLUMNS}`, [id, orgId, userId]))
      return row && toGrant(row)
    },
    async claimRefresh(id, now, until) {
      const rows = await sql.query<Raw>(
        `UPDATE oauth_grants SET refresh_lease_until = $3
         WHERE id = $1 AND (refresh_lease_until IS NULL OR refresh_lease_until < $2) RETURNING id`,
        [id, now, until],
      )
      return rows.length > 0
    },
    async saveRefreshed(id, {accessToken, refreshToken, scopes, expiresAt}, now) {
      const keep = refreshToken === undefined
      const row = first(
        await sql.query<Raw>(
          `UPDATE oauth_grants SET access_token = $2, refresh_token = CASE WHEN $3::boolean THEN refresh_token ELSE $4::text END,
             scopes = $5::text[], expires_at = $6, status = 'active', last_error = NULL, refresh_lease_until = NULL,
             refreshed_at = $7, updated_at = $7
           WHERE id = $1 RETURNING ${GRANT_COLUMNS}`,
          [id, accessToken, keep, keep ? null : refreshToken, scopes, expiresAt, now],
        ),
      )
      return row && toGrant(row)
    },
    async markNeedsReauth(id, error) {
      await sql.query(
        `UPDATE oauth_grants SET status = 'needs_reauth', last_error = $2, refresh_lease_until = NULL, updated_at = now() WHERE id = $1`,
        [id, error],
      )
    },
    async releaseRefresh(id, error) {
      await sql.query('UPDATE oauth_grants SET refresh_lease_until = NULL, last_error = $2 WHERE id = $1', [id, error])
    },
    async listDueForRefresh(before, limit) {
      const rows = await sql.query<Raw>(
        `SELECT ${GRANT_COLUMNS} FROM oauth_grants
         WHERE kind = 'mcp' AND status = 'active' AND refresh_token IS NOT NULL AND expires_at IS NOT NULL AND expires_at < $1
         ORDER BY expires_at LIMIT $2`,
        [before, limit],
      )
      return rows.map(toGrant)
    },
  }
}

/**
 * Approvals of tool calls and the grants they leave.
 *
 * A call that needs a decision is stored (tool_approvals) before `approval_required` is sent;
 * `POST /api/v1/sessions/:key/approvals/:callId` claims it with ONE conditional UPDATE scoped to
 * the caller's org and user, so a decision is taken once (a second → 409) and a foreign caller
 * learns nothing (403, as for a missing session). A `1h` / `24h` / `always` decision stores a
 * grant in the same transaction. The waiting turn hears of the decision at once when it runs in
 * this process, else from the row (checked every POLL_MS); without a decision within
 * APPROVAL_TTL_MS the call is denied.
 */
import {HttpError} from '../http/errors.js'
import {toolRepo, type ApprovalDecision, type ToolGrantRow} from '../store/repos/tools.js'
import type {Store} from '../store/types.js'
import {toolPath} from './naming.js'
import {matchesPattern} from './policy.js'

export const APPROVAL_TTL_MS = 10 * 60 * 1000
const PRUNE_EVERY_MS = 10 * 60 * 1000
/** How often a waiting turn reads its row (a decision taken by another gateway process). */
const POLL_MS = 2_000

export const DECISIONS = ['once', '1h', '24h', 'always', 'deny'] as const

/** The lifetime of the grant a decision stores: undefined = none, null = forever. */
export function grantLifetime(decision: ApprovalDecision): number | null | undefined {
  if (decision === '1h') return 60 * 60 * 1000
  if (decision === '24h') return 24 * 60 * 60 * 1000
  if (decision === 'always') return null
  return undefined
}

export interface Owner {
  orgId: string
  userId: string
}

export interface ApprovalRequest extends Owner {
  sessionKey: string
  callId: string
  agentId: string
  server: string
  tool: string
}

export type WaitResult = ApprovalDecision | 'timeout' | 'cancelled'

export class ApprovalService {
  private readonly waiters = new Map<string, (decision: WaitResult) => void>()
  private prunedAt = 0

  constructor(
    private readonly store: Store,
    private readonly ttlMs = APPROVAL_TTL_MS,
  ) {}

  /** Store the pending call; resolves with its expiry (for `approval_required`). */
  async open(req: ApprovalRequest): Promise<Date> {
    const expiresAt = new Date(Date.now() + this.ttlMs)
    const repo = toolRepo(this.store.sql)
    await repo.insertPending({...req, expiresAt})
    // Rows of calls whose wait ended a day ago serve nobody (at most one prune per PRUNE_EVERY_MS).
    if (Date.now() - this.prunedAt > PRUNE_EVERY_MS) {
      this.prunedAt = Date.now()
      void repo.pruneApprovals(new Date(Date.now() - 24 * 60 * 60 * 1000)).catch(() => {})
    }
    return expiresAt
  }

  /** Wait for the decision of an open call (timeout → `timeout`, abort → `cancelled`; both stored). */
  wait(req: ApprovalRequest, expiresAt: Date, signal: AbortSignal): Promise<WaitResult> {
    const id = `${req.sessionKey}\u0000${req.callId}`
    return new Promise<WaitResult>((resolve) => {
      let settled = false
      const finish = (result: WaitResult) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        clearInterval(poll)
        signal.removeEventListener('abort', onAbort)
        if (this.waiters.get(id) === finish) this.waiters.delete(id)
        resolve(result)
      }
      // Ending the wait claims the row too, so a decision racing with it is either taken or refused.
      const end = (why: 'timeout' | 'cancelled') => {
        void toolRepo(this.store.sql)
          .claim(req, req.sessionKey, req.callId, why)
          .then(async (claim) => {
            if (claim.kind === 'claimed') return finish(why)
            const decided = await toolRepo(this.store.sql).decisionOf(req.sessionKey, req.callId)
            finish(isDecision(decided) ? decided : why)
          })
          .catch(() => finish(why))
      }
      const onAbort = () => end('cancelled')
      const timer = setTimeout(() => end('timeout'), Math.max(0, expiresAt.getTime() - Date.now()))
      const poll = setInterval(() => {
        void toolRepo(this.store.sql)
          .decisionOf(req.sessionKey, req.callId)
          .then((d) => {
            if (isDecision(d)) finish(d)
          })
          .catch(() => {})
      }, POLL_MS)
      poll.unref()
      this.waiters.set(id, finish)
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, {once: true})
    })
  }

  /**
   * Decide a call of the caller's session: 200 body, or 409 ALREADY_DECIDED, or `notFound()`
   * (the caller's 403 for a missing session) when there is no such call for this caller.
   */
  async decide(owner: Owner, sessionKey: string, callId: string, decision: ApprovalDecision, notFound: () => HttpError): Promise<{callId: string; decision: ApprovalDecision}> {
    const claim = await this.store.transaction(async (tx) => {
      const repo = toolRepo(tx.sql)
      const result = await repo.claim(owner, sessionKey, callId, decision)
      if (result.kind === 'claimed') {
        const lifetime = grantLifetime(decision)
        if (lifetime !== undefined) {
          await repo.upsertGrant(owner, result.agentId, toolPath(result.server, result.tool), lifetime === null ? null : new Date(Date.now() + lifetime))
        }
      }
      return result
    })
    if (claim.kind === 'missing') throw notFound()
    if (claim.kind === 'decided') throw new HttpError(409, 'ALREADY_DECIDED', `call ${callId} was already decided (or its wait ended)`)
    this.waiters.get(`${sessionKey}\u0000${callId}`)?.(decision)
    return {callId, decision}
  }

  /** The caller's live grants for an agent, by tool path. */
  async liveGrants(owner: Owner, agentId: string): Promise<Map<string, ToolGrantRow>> {
    const rows = await toolRepo(this.store.sql).liveGrants(owner, agentId)
    return new Map(rows.map((r) => [r.path, r]))
  }

  /** Drop the caller's grants of an agent matching `pattern`; how many. */
  async revoke(owner: Owner, agentId: string, pattern: string): Promise<number> {
    const repo = toolRepo(this.store.sql)
    const all = await repo.allGrants(owner, agentId)
    const victims = all
      .filter((g) => {
        const m = /^\/mcp\/([^/]+)\/tools\/([^/]+)$/.exec(g.path)
        return m !== null && matchesPattern(pattern, m[1]!, m[2]!)
      })
      .map((g) => g.path)
    return repo.deleteGrants(owner, agentId, victims)
  }
}

function isDecision(value: unknown): value is ApprovalDecision {
  return typeof value === 'string' && (DECISIONS as readonly string[]).includes(value)
}

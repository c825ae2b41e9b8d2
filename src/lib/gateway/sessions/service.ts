/**
 * Sessions and their turns. Every lookup takes the caller's org AND user (docs/SECURITY.md S4); a session of
 * another tenant is answered exactly like a missing one (docs/SECURITY.md S5). The acting user is always the
 * token's user (docs/SECURITY.md S16).
 */
import {DEFAULT_AGENT_ID} from '../../contract/ids.js'
import type {EgressPolicy} from '../egress/index.js'
import {agentNotAccessible} from '../agents/service.js'
import {HttpError, conflict, forbidden} from '../http/errors.js'
import type {MessageView, SessionDetail, SessionView} from '../../contract/api.js'
import type {Logger} from '../http/types.js'
import type {ChatMessage} from '../providers/index.js'
import {newId, randomBase62} from '../store/ids.js'
import {sessionRepo, type NewSessionMessage, type SessionMessageRow, type SessionOwner, type SessionRow, type TurnLoadRow} from '../store/repos/sessions.js'
import type {AgentRow, ProviderSpec, Store} from '../store/types.js'
import {SessionWork} from './batch.js'
import {secretNamesOf, type GrantFinder, type PrefetchedCredentials} from './credentials.js'
import {SessionCaches} from './caches.js'
import {type HubRegistry, ID_BLOCK, type Listener, type SessionHub, type TurnControl} from './hub.js'
import type {CreateSessionBody} from './schema.js'
import type {SseSink} from './sse.js'
import type {ToolService} from '../tools/service.js'
import {fromStored, toStored} from './prompt.js'
import {TurnAbort, runAgentTurn, turnTimeoutMs, type TurnEnvironment, type TurnOutcome} from './turn.js'

export interface SessionServiceOptions {
  store: Store
  env: NodeJS.ProcessEnv
  installKey: Buffer
  systemProviders: readonly ProviderSpec[]
  /** The egress guard for tenant-set provider URLs (default: unguarded). */
  egress?: EgressPolicy
  /** The gateway's base URL (settingsUrl of NO_MODEL_CONFIGURED). */
  url: string
  log: Logger
  /** Idle timeout of provider calls (default: $LOBU_PROVIDER_TIMEOUT_MS, else 120 s). */
  timeoutMs?: number
  /** How long an attached turn survives without any watcher before it is cancelled. */
  disconnectGraceMs?: number
  /** The longest shutdown waits for running turns to store their end. */
  shutdownWaitMs?: number
  /**
   * Send a turn's `done` / `error` as soon as its end is queued to be stored rather than once it
   * is (default: with PGlite, whose only client is this process). Every read of the session
   * through the same store (any gateway over it) waits for that commit first, so a client that
   * saw `done` still finds the turn in the history. The cost: a crash in between loses a turn
   * its client saw end. Off with PostgreSQL, where the next request may reach another process.
   */
  deliverBeforeStored?: boolean
  /**
   * With deliverBeforeStored: how long the commit of a delivered turn may wait for the turns
   * ending after it, to be stored with them (default COMMIT_WINDOW_MS). A read of the session
   * does not wait for it: the commit then runs at once.
   */
  commitWindowMs?: number
  grants?: GrantFinder
  /** The agents' MCP tools (tools/service.ts); without it no tool is offered. */
  tools?: ToolService
}

/** See SessionServiceOptions.commitWindowMs. */
export const COMMIT_WINDOW_MS = 100

/** How long the event log keeps events for replay. */
const EVENT_RETENTION_MS = 60 * 60 * 1000
/** A session's expired events are deleted at most this often (by this instance). */
const PRUNE_EVERY_MS = 10 * 60 * 1000

/**
 * A turn, loaded by ONE read-only statement (scoped by org AND user) before it starts: the
 * session, the agent, the history and what choosing the key needs.
 */
export interface PreparedTurn {
  session: SessionRow
  /** undefined when the agent was deleted since the session was created. */
  agent: AgentRow | undefined
  history: ChatMessage[]
  prefetched: PrefetchedCredentials
  /** Event ids this instance reserved beforehand for the session, when still the latest. */
  block?: {last: number; count: number}
  /** Set when the event log may hold events past their retention. */
  pruneBefore?: Date
}

export function sessionNotAccessible(): HttpError {
  return forbidden('the session does not exist or is not accessible with this token', 'POST /api/v1/sessions starts or resumes a session')
}

export function toSessionView(row: SessionRow): SessionView {
  return {
    sessionKey: row.key,
    agentId: row.agentId,
    thread: row.thread,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

function toMessageView(row: SessionMessageRow): MessageView {
  const view: MessageView = {messageId: row.messageId, role: row.role, content: row.content, status: row.status, createdAt: row.createdAt.toISOString()}
  if (row.tool) {
    const [m] = fromStored([row])
    if (m?.role === 'assistant' && m.toolCalls) view.toolCalls = m.toolCalls
    if (m?.role === 'tool') {
      view.callId = m.callId
      view.name = m.name
      if (m.isError) view.isError = true
    }
  }
  return view
}

export function newSessionKey(): string {
  return `ses_${randomBase62(32)}`
}

export class SessionService {
  private readonly repo
  private readonly work: SessionWork
  /** Everything kept in memory between requests, each cache described there. */
  private readonly caches: SessionCaches
  private closing = false
  /** Every turn of this instance until it is over and stored (shutdown waits for them). */
  private readonly running = new Set<Promise<void>>()
  private readonly deliverBeforeStored: boolean
  /** What every turn runs with (the idle timeout read from the environment once). */
  private readonly turnEnv: TurnEnvironment

  constructor(private readonly opts: SessionServiceOptions) {
    this.turnEnv = {
      store: opts.store,
      env: opts.env,
      installKey: opts.installKey,
      systemProviders: opts.systemProviders,
      url: opts.url,
      timeoutMs: opts.timeoutMs ?? turnTimeoutMs(opts.env),
      grants: opts.grants,
      egress: opts.egress,
    }
    this.deliverBeforeStored = opts.deliverBeforeStored ?? opts.store.kind === 'pglite'
    // Commits nobody waits for (their `done` is out) wait for the ones of the turns ending next.
    const commitWindowMs = this.deliverBeforeStored ? (opts.commitWindowMs ?? COMMIT_WINDOW_MS) : 0
    this.work = new SessionWork(opts.store, {commitWindowMs})
    this.caches = new SessionCaches(opts.store, this.work, opts.log)
    this.repo = sessionRepo(opts.store.sql)
  }

  /** The live hubs of this service's sessions. */
  get hubs(): HubRegistry {
    return this.caches.hubs
  }

  /**
   * The end of the session's last turn, when it was delivered and is still being stored; the
   * commit then runs at once (a reader waits for it).
   */
  private stored(key: string): Promise<void> | undefined {
    const pending = this.caches.unstored.get(key)
    if (!pending) return undefined
    pending.flush()
    return pending.storing
  }

  get shuttingDown(): boolean {
    return this.closing
  }

  /** Start or resume the session of (org, user, agent, thread). */
  async create(owner: SessionOwner, body: CreateSessionBody): Promise<{created: boolean; session: SessionView}> {
    const agentId = body.agentId ?? DEFAULT_AGENT_ID
    const thread = body.thread ?? `t-${randomBase62(16)}`

    if (body.forceNew) {
      if (!(await this.opts.store.agents.get(owner.orgId, agentId))) throw agentNotAccessible(agentId)
      // Delete and recreate in one transaction: the thread is never seen without a session.
      const {old, row} = await this.opts.store.transaction(async (tx) => {
        const repo = sessionRepo(tx.sql)
        const deleted = await repo.deleteByThread(owner, agentId, thread)
        return {old: deleted, row: await repo.insert({...owner, key: newSessionKey(), agentId, thread})}
      })
      if (old) {
        this.caches.forget(old)
        this.endSession(old, 'the thread was started afresh')
      }
      if (row) return {created: true, session: this.view(row)}
    }
    // A new thread is ONE statement (batched with other creations): inserted only when the agent
    // exists in the caller's org.
    const inserted = await this.work.creates.run({...owner, key: newSessionKey(), agentId, thread, reserve: ID_BLOCK})
    if (inserted) {
      this.caches.remember(inserted.key, {agentId: inserted.agentId, idBlock: {last: inserted.lastEventId, count: ID_BLOCK}})
      return {created: true, session: toSessionView(inserted)}
    }
    const existing = await this.repo.findByThread(owner, agentId, thread)
    if (existing) return {created: false, session: this.view(existing)}
    // Neither inserted nor found: no such agent in the org (or the thread changed meanwhile).
    if (!(await this.opts.store.agents.get(owner.orgId, agentId))) throw agentNotAccessible(agentId)
    throw conflict('SESSION_CONFLICT', 'the session changed while it was being created', 'retry the request')
  }

  private view(row: SessionRow): SessionView {
    this.caches.remember(row.key, {agentId: row.agentId})
    return toSessionView(row)
  }

  /** The caller's session, or 403 (the same for a missing one and another tenant's). */
  async load(owner: SessionOwner, key: string): Promise<SessionRow> {
    const storing = this.stored(key)
    if (storing) await storing
    const row = await this.repo.get(owner, key)
    if (!row) throw sessionNotAccessible()
    return row
  }

  /**
   * Load a turn of the caller's session, or 403 (the same for a missing one and another
   * tenant's): ONE statement, batched with the other turns starting meanwhile.
   */
  async prepareTurn(owner: SessionOwner, key: string): Promise<PreparedTurn> {
    // The history must hold the last turn, whose `done` may have left before it was stored.
    const storing = this.stored(key)
    if (storing) await storing
    const agentId = this.caches.sessions.get(key)?.agentId
    const cached = agentId === undefined ? undefined : this.caches.agents.get(`${owner.orgId}\u0000${agentId}`)
    const row = await this.work.loads.run({...owner, key, agentVersion: cached?.version ?? null})
    if (!row) throw sessionNotAccessible()
    const {session} = row
    const agent = await this.agentOf(row)
    const names = secretNamesOf(agent?.spec.providers ?? [])
    // Ids reserved by this instance for this session (at its creation or at the end of its
    // last turn) are still the latest only if nobody reserved any since.
    const memo = this.caches.sessions.get(session.key)
    const block = memo?.idBlock
    const pruneBefore = this.pruneBefore(session, memo?.prunedAt)
    this.caches.remember(session.key, {agentId: session.agentId, idBlock: undefined, ...(pruneBefore && {prunedAt: Date.now()})})
    return {
      session,
      block: block && block.last === session.lastEventId ? block : undefined,
      agent,
      history: fromStored(row.history),
      prefetched: {secrets: row.secrets, names, grantTargets: new Set(row.grantTargets)},
      pruneBefore,
    }
  }

  /**
   * The retention cut-off when the session's log may hold expired events: checked every
   * PRUNE_EVERY_MS (`prunedAt`: when this instance last pruned it).
   */
  private pruneBefore(session: SessionRow, prunedAt: number | undefined): Date | undefined {
    const now = Date.now()
    const cutoff = now - EVENT_RETENTION_MS
    // Nothing in the log is older than the session itself.
    if (session.createdAt.getTime() >= cutoff) return undefined
    if (prunedAt !== undefined && now - prunedAt < PRUNE_EVERY_MS) return undefined
    return new Date(cutoff)
  }

  /** The agent of a loaded turn: the cached row when the load said it is current. */
  private async agentOf(row: TurnLoadRow): Promise<AgentRow | undefined> {
    const {session, agent} = row
    if (!agent) return undefined
    const cacheKey = `${session.orgId}\u0000${session.agentId}`
    const cached = this.caches.agents.get(cacheKey)
    let full: AgentRow | undefined
    if (agent.spec) {
      full = {orgId: session.orgId, agentId: session.agentId, spec: agent.spec, managedBy: agent.managedBy, createdAt: agent.createdAt, updatedAt: agent.updatedAt}
    } else if (cached?.version === agent.version) {
      full = cached.row
    } else {
      // The cached copy changed between the request and the answer: read it (rare).
      full = await this.opts.store.agents.get(session.orgId, session.agentId)
      return full
    }
    if (cached?.version !== agent.version) this.caches.agents.set(cacheKey, {version: agent.version, row: full})
    return full
  }

  async get(owner: SessionOwner, key: string): Promise<SessionDetail> {
    const row = await this.load(owner, key)
    const messages = await this.repo.messages(row.key)
    return {...toSessionView(row), messages: messages.map(toMessageView)}
  }

  async delete(owner: SessionOwner, key: string): Promise<{sessionKey: string; deleted: true}> {
    const storing = this.stored(key)
    if (storing) await storing
    const deleted = await this.repo.delete(owner, key)
    if (!deleted) throw sessionNotAccessible()
    this.caches.forget(key)
    this.endSession(key, 'the session was deleted')
    return {sessionKey: key, deleted: true}
  }

  /**
   * Start a turn on the session. `listener` (if any) is subscribed before the first event of
   * the turn and receives only this turn's events. Returns the turn's control and the
   * listener's unsubscribe function.
   */
  startTurn(
    turn: PreparedTurn,
    content: string,
    options: {dryRun?: boolean; attached: boolean; listener?: Listener},
  ): {control: TurnControl; unsubscribe: () => void} {
    if (this.closing) throw new HttpError(503, 'UNAVAILABLE', 'the gateway is shutting down')
    const hub = this.hubs.get(turn.session.key)
    if (hub.turns.size > 0) {
      throw conflict('TURN_IN_PROGRESS', 'a turn is already running in this session', 'wait for its `done` or `error` event, or use another thread')
    }
    // Event ids: reserved beforehand, or now in the background (the turn's first event waits
    // for them, the provider request does not).
    if (turn.block) hub.addBlock(turn.block.last, turn.block.count)
    hub.prepareIds()
    const messageId = newId('msg')
    const listener = options.listener
    const unsubscribe = listener ? hub.subscribe((ev) => ev.messageId === messageId && listener(ev)) : () => {}
    const control: TurnControl = {
      messageId,
      controller: new AbortController(),
      attached: options.attached,
      posterGone: false,
      done: Promise.resolve(),
    }
    hub.turns.set(messageId, control)
    const done = this.runTurn(hub, turn, control, content, Boolean(options.dryRun))
      .catch((err) => this.opts.log('error', `turn ${messageId} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`))
      .finally(() => {
        clearTimeout(control.orphanTimer)
        hub.turns.delete(messageId)
        this.running.delete(done)
        this.hubs.dropIfIdle(hub)
      })
    control.done = done
    this.running.add(done)
    return {control, unsubscribe}
  }

  /** The streaming POST of an attached turn went away before its end. */
  posterLeft(sessionKey: string, control: TurnControl): void {
    control.posterGone = true
    const hub = this.hubs.peek(sessionKey)
    if (hub) this.checkOrphan(hub, control)
  }

  /** An `/events` stream of the session opened. */
  watcherJoined(sessionKey: string): SessionHub {
    const hub = this.hubs.get(sessionKey)
    hub.watchers++
    return hub
  }

  /** An `/events` stream of the session closed. */
  watcherLeft(hub: SessionHub): void {
    hub.watchers = Math.max(0, hub.watchers - 1)
    for (const control of hub.turns.values()) this.checkOrphan(hub, control)
    this.hubs.dropIfIdle(hub)
  }

  /** Track an open SSE response of a session (closed at shutdown and when the session ends). */
  trackSink(sessionKey: string, sink: SseSink): () => void {
    const hub = this.hubs.get(sessionKey)
    hub.sinks.add(sink)
    return () => {
      hub.sinks.delete(sink)
      this.hubs.dropIfIdle(hub)
    }
  }

  /**
   * Gateway shutdown: cancel every running turn (each ends with `error` SHUTDOWN, stored and
   * delivered), wait for them (bounded), then close every open stream.
   */
  async shutdown(): Promise<void> {
    this.closing = true
    this.work.commits.closeWindow()
    for (const hub of this.hubs.all()) {
      for (const control of hub.turns.values()) control.controller.abort(new TurnAbort('SHUTDOWN', 'the gateway is shutting down'))
    }
    // Also the turns whose end was delivered and is still being stored.
    const running = [...this.running]
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled(running),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.opts.shutdownWaitMs ?? 5_000)
        }),
      ])
      clearTimeout(timer)
    }
    for (const hub of this.hubs.all()) for (const sink of [...hub.sinks]) sink.close()
  }

  private checkOrphan(hub: SessionHub, control: TurnControl): void {
    if (!control.attached || !control.posterGone || hub.watchers > 0 || control.orphanTimer || control.controller.signal.aborted) return
    control.orphanTimer = setTimeout(() => {
      control.orphanTimer = undefined
      if (hub.watchers === 0) control.controller.abort(new TurnAbort('ABORTED', 'the client disconnected; the turn was cancelled'))
    }, this.opts.disconnectGraceMs ?? 1_500)
    control.orphanTimer.unref?.()
  }

  /** A session was deleted or restarted: cancel its turn, close its streams once the turn ended. */
  private endSession(key: string, why: string): void {
    const hub = this.hubs.peek(key)
    const running = hub ? [...hub.turns.values()] : []
    for (const control of running) control.controller.abort(new TurnAbort('ABORTED', why))
    void Promise.allSettled(running.map((c) => c.done)).then(() => {
      for (const sink of [...(this.hubs.peek(key)?.sinks ?? [])]) sink.close()
    })
  }

  private async runTurn(hub: SessionHub, turn: PreparedTurn, control: TurnControl, content: string, dryRun: boolean): Promise<void> {
    const {session, agent} = turn
    const {messageId} = control
    const tools = this.opts.tools
    const signal = control.controller.signal
    // Publishing never waits: ids are reserved, the log is written at the end of the turn.
    const emit = (event: string, data: Record<string, unknown>) => hub.publish(event, {messageId, ...data}, messageId)
    // A delta's data, written as JSON.stringify({messageId, text}) would (the hot path).
    const deltaPrefix = `{"messageId":${JSON.stringify(messageId)},"text":`
    const deltaSink = (text: string) => hub.publishDelta(messageId, deltaPrefix, JSON.stringify(text))
    let outcome: TurnOutcome
    try {
      if (!agent) {
        const denied = agentNotAccessible(session.agentId)
        outcome = {kind: 'error', text: '', messages: [], error: {code: denied.code, message: denied.message}}
      } else {
        outcome = await runAgentTurn(
          this.turnEnv,
          {
            agent,
            userId: session.userId,
            history: turn.history,
            prompt: content,
            signal,
            dryRun,
            prefetched: turn.prefetched,
            tools: tools && (() => tools.forTurn({orgId: session.orgId, userId: session.userId, agent, sessionKey: session.key, dryRun})),
          },
          {
            turn: (info) => emit('turn', {agentId: session.agentId, provider: info.provider, model: info.model}),
            delta: deltaSink,
            toolCall: (call) => emit('tool_call', {...call}),
            approvalRequired: (info) => emit('approval_required', {...info}),
            toolResult: (result) => emit('tool_result', {...result}),
          },
        )
      }
    } catch (err) {
      const error = signal.aborted && signal.reason instanceof TurnAbort ? {code: signal.reason.code, message: signal.reason.message} : {code: 'INTERNAL', message: 'the turn failed inside the gateway', hint: 'the gateway log has the details'}
      if (error.code === 'INTERNAL') this.opts.log('error', `turn ${messageId}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      // runAgentTurn only throws before the provider is called: there is no partial reply.
      outcome = {kind: 'error', text: '', messages: [], error}
    }

    const data: Record<string, unknown> =
      outcome.kind === 'done'
        ? {messageId, finishReason: outcome.finishReason, usage: {inputTokens: outcome.usage.inputTokens, outputTokens: outcome.usage.outputTokens}}
        : {messageId, ...outcome.error}
    const messages: NewSessionMessage[] = [{messageId, role: 'user', content}]
    const stored = toStored(outcome.messages)
    for (const [i, m] of stored.entries()) {
      // The last reply of a failed turn is a partial one (tool calls and results are whole).
      const partial = outcome.kind === 'error' && i === stored.length - 1 && m.role === 'assistant' && !m.tool
      messages.push({messageId, role: m.role, content: m.content, status: partial ? 'partial' : 'complete', tool: m.tool ?? null})
    }
    // The messages and the events in ONE transaction (shared with the other turns ending now).
    await hub.publishTerminal(
      outcome.kind,
      data,
      messageId,
      async (events) => {
        const last = await this.work.commits.run({key: session.key, messages, events, pruneBefore: turn.pruneBefore, reserveNext: ID_BLOCK})
        if (last !== undefined) this.caches.remember(session.key, {idBlock: {last, count: ID_BLOCK}})
      },
      {
        deliverFirst: this.deliverBeforeStored,
        // Over for its clients: the session takes its next turn (which waits for the store).
        onDelivered: () => {
          clearTimeout(control.orphanTimer)
          hub.turns.delete(messageId)
          const storing = hub.stored()
          if (!storing) return
          // Every session service over this store (gateways sharing it in one process) waits for it.
          const unstored = this.caches.unstored
          unstored.set(session.key, {storing, flush: () => this.work.commits.flushNow()})
          void storing.then(() => {
            if (unstored.get(session.key)?.storing === storing) unstored.delete(session.key)
          })
        },
      },
    )
  }
}

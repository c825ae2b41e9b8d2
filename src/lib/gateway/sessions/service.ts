/**
 * Sessions and their turns. Every lookup takes the caller's org AND user (S4); a session of
 * another tenant is answered exactly like a missing one (S5). The acting user is always the
 * token's user (S16).
 */
import {agentNotAccessible} from '../agents/service.js'
import {DEFAULT_AGENT_ID} from '../agents/system-providers.js'
import {HttpError, conflict, forbidden} from '../http/errors.js'
import type {Logger} from '../http/types.js'
import type {ChatMessage} from '../providers/index.js'
import {newId, randomBase62} from '../store/ids.js'
import {sessionRepo, type NewSessionMessage, type SessionMessageRow, type SessionOwner, type SessionRow} from '../store/repos/sessions.js'
import type {ProviderSpec, Store} from '../store/types.js'
import type {GrantFinder} from './credentials.js'
import {HubRegistry, type Listener, type SessionHub, type TurnControl} from './hub.js'
import type {CreateSessionBody} from './schema.js'
import type {SseSink} from './sse.js'
import {TurnAbort, runAgentTurn, type TurnOutcome} from './turn.js'

export interface SessionServiceOptions {
  store: Store
  env: NodeJS.ProcessEnv
  installKey: Buffer
  systemProviders: readonly ProviderSpec[]
  /** The gateway's base URL (settingsUrl of NO_MODEL_CONFIGURED). */
  url: string
  log: Logger
  /** Idle timeout of provider calls (default: $LOBU_PROVIDER_TIMEOUT_MS, else 120 s). */
  timeoutMs?: number
  /** How long an attached turn survives without any watcher before it is cancelled. */
  disconnectGraceMs?: number
  /** The longest shutdown waits for running turns to store their end. */
  shutdownWaitMs?: number
  grants?: GrantFinder
}

export interface SessionView {
  sessionKey: string
  agentId: string
  thread: string
  createdAt: string
  updatedAt: string
}

export interface MessageView {
  messageId: string
  role: 'user' | 'assistant'
  content: string
  status: 'complete' | 'partial'
  createdAt: string
}

/** How long the event log keeps events for replay. */
const EVENT_RETENTION_MS = 60 * 60 * 1000

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
  return {messageId: row.messageId, role: row.role, content: row.content, status: row.status, createdAt: row.createdAt.toISOString()}
}

export function newSessionKey(): string {
  return `ses_${randomBase62(32)}`
}

export class SessionService {
  readonly hubs: HubRegistry
  private readonly repo
  private readonly sinks = new Map<string, Set<SseSink>>()
  private closing = false

  constructor(private readonly opts: SessionServiceOptions) {
    this.hubs = new HubRegistry(opts.store, opts.log)
    this.repo = sessionRepo(opts.store.sql)
  }

  get shuttingDown(): boolean {
    return this.closing
  }

  /** Start or resume the session of (org, user, agent, thread). */
  async create(owner: SessionOwner, body: CreateSessionBody): Promise<{created: boolean; session: SessionView}> {
    const agentId = body.agentId ?? DEFAULT_AGENT_ID
    const agent = await this.opts.store.agents.get(owner.orgId, agentId)
    if (!agent) throw agentNotAccessible(agentId)
    const thread = body.thread ?? `t-${randomBase62(16)}`

    if (body.forceNew) {
      // Delete and recreate in one transaction: the thread is never seen without a session.
      const {old, row} = await this.opts.store.transaction(async (tx) => {
        const repo = sessionRepo(tx.sql)
        const deleted = await repo.deleteByThread(owner, agentId, thread)
        return {old: deleted, row: await repo.insert({...owner, key: newSessionKey(), agentId, thread})}
      })
      if (old) this.endSession(old, 'the thread was started afresh')
      if (row) return {created: true, session: toSessionView(row)}
    } else {
      const existing = await this.repo.findByThread(owner, agentId, thread)
      if (existing) return {created: false, session: toSessionView(existing)}
    }
    const inserted = await this.repo.insert({...owner, key: newSessionKey(), agentId, thread})
    if (inserted) return {created: true, session: toSessionView(inserted)}
    // Another request created the same thread meanwhile: resume it.
    const raced = await this.repo.findByThread(owner, agentId, thread)
    if (!raced) throw conflict('SESSION_CONFLICT', 'the session changed while it was being created', 'retry the request')
    return {created: false, session: toSessionView(raced)}
  }

  /** The caller's session, or 403 (the same for a missing one and another tenant's). */
  async load(owner: SessionOwner, key: string): Promise<SessionRow> {
    const row = await this.repo.get(owner, key)
    if (!row) throw sessionNotAccessible()
    return row
  }

  async get(owner: SessionOwner, key: string): Promise<SessionView & {messages: MessageView[]}> {
    const row = await this.load(owner, key)
    const messages = await this.repo.messages(row.key)
    return {...toSessionView(row), messages: messages.map(toMessageView)}
  }

  async delete(owner: SessionOwner, key: string): Promise<{sessionKey: string; deleted: true}> {
    const deleted = await this.repo.delete(owner, key)
    if (!deleted) throw sessionNotAccessible()
    this.endSession(key, 'the session was deleted')
    return {sessionKey: key, deleted: true}
  }

  /**
   * Start a turn on the session. `listener` (if any) is subscribed before the first event of
   * the turn and receives only this turn's events. Returns the turn's control and the
   * listener's unsubscribe function.
   */
  startTurn(
    session: SessionRow,
    content: string,
    options: {dryRun?: boolean; attached: boolean; listener?: Listener},
  ): {control: TurnControl; unsubscribe: () => void} {
    if (this.closing) throw new HttpError(503, 'UNAVAILABLE', 'the gateway is shutting down')
    const hub = this.hubs.get(session.key)
    if (hub.turns.size > 0) {
      throw conflict('TURN_IN_PROGRESS', 'a turn is already running in this session', 'wait for its `done` or `error` event, or use another thread')
    }
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
    control.done = this.runTurn(hub, session, control, content, Boolean(options.dryRun))
      .catch((err) => this.opts.log('error', `turn ${messageId} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`))
      .finally(() => {
        clearTimeout(control.orphanTimer)
        hub.turns.delete(messageId)
        this.hubs.dropIfIdle(hub)
      })
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
  }

  /** Track an open SSE response of a session (closed at shutdown and when the session ends). */
  trackSink(sessionKey: string, sink: SseSink): () => void {
    let set = this.sinks.get(sessionKey)
    if (!set) this.sinks.set(sessionKey, (set = new Set()))
    set.add(sink)
    return () => {
      set.delete(sink)
      if (set.size === 0 && this.sinks.get(sessionKey) === set) this.sinks.delete(sessionKey)
    }
  }

  /**
   * Gateway shutdown: cancel every running turn (each ends with `error` SHUTDOWN, stored and
   * delivered), wait for them (bounded), then close every open stream.
   */
  async shutdown(): Promise<void> {
    this.closing = true
    const running: Promise<void>[] = []
    for (const hub of this.hubs.all()) {
      for (const control of hub.turns.values()) {
        control.controller.abort(new TurnAbort('SHUTDOWN', 'the gateway is shutting down'))
        running.push(control.done)
      }
    }
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
    for (const set of this.sinks.values()) for (const sink of [...set]) sink.close()
    this.sinks.clear()
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
      for (const sink of [...(this.sinks.get(key) ?? [])]) sink.close()
    })
  }

  private async runTurn(hub: SessionHub, session: SessionRow, control: TurnControl, content: string, dryRun: boolean): Promise<void> {
    const {messageId} = control
    const signal = control.controller.signal
    const emit = async (event: string, data: Record<string, unknown>) => {
      await hub.publish(event, {messageId, ...data}, messageId)
    }
    let partial = ''
    let outcome: TurnOutcome
    try {
      const agent = await this.opts.store.agents.get(session.orgId, session.agentId)
      if (!agent) {
        const denied = agentNotAccessible(session.agentId)
        outcome = {kind: 'error', text: '', error: {code: denied.code, message: denied.message}}
      } else {
        const history: ChatMessage[] = (await this.repo.messages(session.key)).map((m) => ({role: m.role, content: m.content}))
        outcome = await runAgentTurn(
          {
            store: this.opts.store,
            env: this.opts.env,
            installKey: this.opts.installKey,
            systemProviders: this.opts.systemProviders,
            url: this.opts.url,
            timeoutMs: this.opts.timeoutMs,
            grants: this.opts.grants,
          },
          {agent, userId: session.userId, history, prompt: content, signal, dryRun},
          {
            turn: (info) => emit('turn', {agentId: session.agentId, provider: info.provider, model: info.model}),
            delta: (text) => {
              partial += text
              return emit('delta', {text})
            },
            toolCall: (call) => emit('tool_call', call),
          },
        )
      }
    } catch (err) {
      const error = signal.aborted && signal.reason instanceof TurnAbort ? {code: signal.reason.code, message: signal.reason.message} : {code: 'INTERNAL', message: 'the turn failed inside the gateway', hint: 'the gateway log has the details'}
      if (error.code === 'INTERNAL') this.opts.log('error', `turn ${messageId}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
      outcome = {kind: 'error', text: partial, error}
    }

    const data: Record<string, unknown> =
      outcome.kind === 'done'
        ? {messageId, finishReason: outcome.finishReason, usage: {inputTokens: outcome.usage.inputTokens, outputTokens: outcome.usage.outputTokens}}
        : {messageId, ...outcome.error}
    const messages: NewSessionMessage[] = [{messageId, role: 'user', content}]
    if (outcome.text) messages.push({messageId, role: 'assistant', content: outcome.text, status: outcome.kind === 'done' ? 'complete' : 'partial'})
    await hub.publishTerminal(outcome.kind, data, messageId, async (tx) => {
      const repo = sessionRepo(tx.sql)
      if (await repo.appendMessages(session.key, messages)) await repo.pruneEvents(session.key, new Date(Date.now() - EVENT_RETENTION_MS))
    })
  }
}

/**
 * The live side of a session's event log: one hub per session key in this process.
 *
 * - ids: monotonic per session, reserved from the database in blocks (`sessions.last_event_id`),
 *   so gateways sharing one PostgreSQL never hand out the same id twice;
 * - live delivery: events go to the subscribers as soon as they are published;
 * - persistence: events are written behind (batched while a write is in flight); a turn's
 *   terminal event is written in the same transaction as the turn's messages and only then
 *   delivered, so a client that sees `done` finds the history stored;
 * - replay: `follow(after, …)` sends what the log and the hub's recent events hold above
 *   `after`, then follows live events, without gaps or duplicates.
 */
import type {Logger} from '../http/types.js'
import {sessionRepo, type SessionEventRow} from '../store/repos/sessions.js'
import type {Store, StoreTx} from '../store/types.js'

export interface SessionEvent {
  id: number
  event: string
  messageId: string | null
  /** One-line JSON of the data. */
  data: string
}

export type Listener = (event: SessionEvent) => void

/** The session was deleted while something was running on it. */
export class SessionGoneError extends Error {
  constructor() {
    super('the session no longer exists')
    this.name = 'SessionGoneError'
  }
}

const ID_BLOCK = 64
const RECENT_MAX = 1024

/** Control of a running turn (see service.ts). */
export interface TurnControl {
  readonly messageId: string
  readonly controller: AbortController
  /** True for a turn started by a streaming POST: it is cancelled when nobody watches any more. */
  readonly attached: boolean
  posterGone: boolean
  orphanTimer?: NodeJS.Timeout
  done: Promise<void>
}

export class SessionHub {
  readonly turns = new Map<string, TurnControl>()
  /** Subscribers of GET /events (they keep an attached turn alive after its poster left). */
  watchers = 0
  private readonly listeners = new Set<Listener>()
  private readonly recent: SessionEvent[] = []
  private pending: SessionEvent[] = []
  private nextId = 1
  private lastReserved = 0
  private chain: Promise<unknown> = Promise.resolve()
  private flushing: Promise<void> | undefined

  constructor(
    readonly key: string,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly onMaybeIdle: (hub: SessionHub) => void,
  ) {}

  get idle(): boolean {
    return this.listeners.size === 0 && this.turns.size === 0 && this.pending.length === 0 && !this.flushing
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
      this.onMaybeIdle(this)
    }
  }

  /** Allocate an id, deliver the event live, and queue it for the log. */
  publish(event: string, data: Record<string, unknown>, messageId: string | null): Promise<SessionEvent> {
    return this.serial(async () => {
      const ev: SessionEvent = {id: await this.allocate(), event, messageId, data: JSON.stringify(data)}
      this.remember(ev)
      this.pending.push(ev)
      this.scheduleFlush()
      this.deliver(ev)
      return ev
    })
  }

  /**
   * The last event of a turn: written together with `work` (the turn's messages) in ONE
   * transaction, then delivered. A failing write is logged; the event is delivered anyway, so
   * every client still sees exactly one terminal event.
   */
  publishTerminal(
    event: string,
    data: Record<string, unknown>,
    messageId: string,
    work: (tx: StoreTx) => Promise<void>,
  ): Promise<SessionEvent> {
    return this.serial(async () => {
      let id: number
      try {
        id = await this.allocate()
      } catch (err) {
        // The session is gone: nothing to store, but the watchers still get their terminal event.
        if (!(err instanceof SessionGoneError)) this.log('error', `session events: ${describe(err)}`)
        id = this.nextId++
      }
      const ev: SessionEvent = {id, event, messageId, data: JSON.stringify(data)}
      await this.flushing
      const batch = this.pending
      this.pending = []
      try {
        await this.store.transaction(async (tx) => {
          await work(tx)
          await sessionRepo(tx.sql).appendEvents(this.key, [...batch, ev].map(toRow))
        })
      } catch (err) {
        this.log('error', `session ${this.key.slice(0, 8)}…: could not store the turn: ${describe(err)}`)
      }
      this.remember(ev)
      this.deliver(ev)
      return ev
    })
  }

  /**
   * Send every event above `after` (from the log and from memory), then every live event, to
   * `listener`, in id order and once each. Returns the unsubscribe function.
   */
  async follow(after: number | 'now', listener: Listener): Promise<() => void> {
    let lastSent = after === 'now' ? 0 : after
    let replaying = true
    const queued: SessionEvent[] = []
    const send = (ev: SessionEvent) => {
      if (ev.id <= lastSent) return
      lastSent = ev.id
      listener(ev)
    }
    const unsubscribe = this.subscribe((ev) => (replaying ? queued.push(ev) : send(ev)))
    try {
      if (after === 'now') {
        // Live only: everything published before this subscription is skipped.
        const stored = await sessionRepo(this.store.sql).lastEventId(this.key)
        lastSent = Math.max(stored, this.recent.at(-1)?.id ?? 0)
        const firstQueued = queued[0]?.id
        if (firstQueued !== undefined) lastSent = Math.min(lastSent, firstQueued - 1)
        for (const ev of queued) send(ev)
        return unsubscribe
      }
      const stored = await sessionRepo(this.store.sql).eventsAfter(this.key, after)
      const merged = new Map<number, SessionEvent>()
      for (const row of stored) merged.set(row.id, {id: row.id, event: row.event, messageId: row.messageId, data: row.data})
      for (const ev of this.recent) if (ev.id > after) merged.set(ev.id, ev)
      for (const ev of queued) merged.set(ev.id, ev)
      for (const ev of [...merged.values()].sort((a, b) => a.id - b.id)) send(ev)
    } catch (err) {
      unsubscribe()
      throw err
    } finally {
      replaying = false
    }
    return unsubscribe
  }

  private deliver(ev: SessionEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(ev)
      } catch (err) {
        this.log('error', `session event listener failed: ${describe(err)}`)
      }
    }
  }

  private remember(ev: SessionEvent): void {
    this.recent.push(ev)
    if (this.recent.length > RECENT_MAX) this.recent.splice(0, this.recent.length - RECENT_MAX)
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(op)
    this.chain = run.catch(() => undefined)
    return run
  }

  private async allocate(): Promise<number> {
    if (this.nextId > this.lastReserved) {
      const last = await sessionRepo(this.store.sql).reserveEventIds(this.key, ID_BLOCK)
      if (last === undefined) throw new SessionGoneError()
      this.lastReserved = last
      this.nextId = last - ID_BLOCK + 1
    }
    return this.nextId++
  }

  private scheduleFlush(): void {
    if (this.flushing) return
    this.flushing = (async () => {
      try {
        // Let the events published in this tick join the batch.
        await new Promise((resolve) => setImmediate(resolve))
        while (this.pending.length > 0) {
          const batch = this.pending
          this.pending = []
          try {
            await sessionRepo(this.store.sql).appendEvents(this.key, batch.map(toRow))
          } catch (err) {
            this.log('warn', `session events could not be written (replay may miss them): ${describe(err)}`)
          }
        }
      } finally {
        this.flushing = undefined
        this.onMaybeIdle(this)
      }
    })()
  }
}

function toRow(ev: SessionEvent): SessionEventRow {
  return {id: ev.id, messageId: ev.messageId, event: ev.event, data: ev.data}
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The hubs of this process, created on demand and dropped when idle. */
export class HubRegistry {
  private readonly hubs = new Map<string, SessionHub>()

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  get(key: string): SessionHub {
    let hub = this.hubs.get(key)
    if (!hub) {
      hub = new SessionHub(key, this.store, this.log, (h) => this.dropIfIdle(h))
      this.hubs.set(key, hub)
    }
    return hub
  }

  peek(key: string): SessionHub | undefined {
    return this.hubs.get(key)
  }

  all(): SessionHub[] {
    return [...this.hubs.values()]
  }

  dropIfIdle(hub: SessionHub): void {
    // Deferred: whoever triggered this may still be about to use the hub in this tick.
    setImmediate(() => {
      if (hub.idle && this.hubs.get(hub.key) === hub) this.hubs.delete(hub.key)
    })
  }
}

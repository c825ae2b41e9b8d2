/**
 * The live side of a session's event log: one hub per session key in this process.
 *
 * - ids: monotonic per session, reserved from the database in blocks (`sessions.last_event_id`),
 *   so gateways sharing one PostgreSQL never hand out the same id twice. Blocks are reserved in
 *   the background (batched with other sessions'), when a turn starts and before the current
 *   block runs out: an event published meanwhile waits for its id, nothing else does;
 * - live delivery: events go to the subscribers as soon as they are published, synchronously;
 * - persistence: the events of a turn are written with its end, in the same transaction as the
 *   turn's messages, packed in one row (a long turn also writes them behind, at the latest
 *   FLUSH_AFTER_MS after they were published). The terminal event is delivered once that
 *   transaction is over, or — `deliverFirst`, when this process is the database's only client
 *   (PGlite) — as soon as it is queued: every read of the session through the same store then
 *   waits for it (stored(), see SessionService), so either way a client that sees `done` finds
 *   the history stored;
 * - replay: `follow(after, …)` sends what the log and the hub's recent events hold above
 *   `after`, then follows live events, without gaps or duplicates.
 */
import type {Logger} from '../http/types.js'
import {sessionRepo, type SessionEventRow} from '../store/repos/sessions.js'
import type {Store} from '../store/types.js'
import type {SessionWork} from './batch.js'
import type {SseSink} from './sse.js'

export interface SessionEvent {
  id: number
  event: string
  messageId: string | null
  /** One-line JSON of the data. */
  data: string
  /** A delta of publishDelta: the JSON literal of its text (see SessionEventRow.text). */
  text?: string
}

export type Listener = (event: SessionEvent) => void

/** Event ids reserved at once. */
export const ID_BLOCK = 256
/** Reserve the next block when fewer ids than this are left. */
const LOW_WATER = 32
const RECENT_MAX = 1024
/** Pending events are written behind once this many are waiting… */
const FLUSH_EVENTS = 512
/** …or this long after the oldest of them was published. */
const FLUSH_AFTER_MS = 1_000

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

/** Stores a turn's end: its messages plus `events` (the hub's unwritten ones, the terminal last). */
export type TerminalCommit = (events: SessionEventRow[]) => Promise<void>

export interface TerminalOptions {
  /** Deliver the event when its commit starts instead of when it is over (see stored()). */
  deliverFirst?: boolean
  /** Called right after the event was delivered: the turn is over for its clients. */
  onDelivered?: () => void
}

interface Blocked {
  event: string
  /** One-line JSON. */
  data: string
  messageId: string | null
  text?: string
}

export class SessionHub {
  readonly turns = new Map<string, TurnControl>()
  /** Subscribers of GET /events (they keep an attached turn alive after its poster left). */
  watchers = 0
  /** The session's open SSE responses (closed at shutdown and when the session ends). */
  readonly sinks = new Set<SseSink>()
  private readonly listeners = new Set<Listener>()
  private readonly recent: SessionEvent[] = []
  private pending: SessionEvent[] = []
  private flushTimer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined
  /** Reserved id blocks, in order: [first, last]. The head is being used. */
  private readonly blocks: [number, number][] = []
  private nextId = 0
  private reserving: Promise<void> | undefined
  /** Events waiting for ids (published while no id was left), in order. */
  private readonly blocked: Blocked[] = []
  /** Set when the session is gone from the database: ids are then local only. */
  private gone = false
  /** The commit of a turn's end that was delivered before it was stored (deliverFirst). */
  private storing: Promise<void> | undefined

  constructor(
    readonly key: string,
    private readonly store: Store,
    private readonly work: SessionWork,
    private readonly log: Logger,
    private readonly onMaybeIdle: (hub: SessionHub) => void,
  ) {}

  get idle(): boolean {
    return (
      this.listeners.size === 0 &&
      this.turns.size === 0 &&
      this.watchers === 0 &&
      this.sinks.size === 0 &&
      this.pending.length === 0 &&
      this.blocked.length === 0 &&
      !this.flushing &&
      !this.reserving &&
      !this.storing
    )
  }

  /**
   * While the end of the last turn was delivered but is not stored yet (deliverFirst): resolves
   * once it is (never rejects). Whoever reads the session's history or log waits for it first.
   */
  stored(): Promise<void> | undefined {
    return this.storing
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
      this.onMaybeIdle(this)
    }
  }

  /** Add a block of reserved ids `[last - count + 1, last]`. */
  addBlock(last: number, count: number): void {
    const first = last - count + 1
    const tail = this.blocks.at(-1)
    if (count <= 0 || (tail && first <= tail[1]) || (this.blocks.length === 0 && last < this.nextId)) return
    this.blocks.push([first, last])
  }

  /** Make sure ids are available or on their way (a turn starts). */
  prepareIds(): void {
    if (this.available() < LOW_WATER) this.reserve()
  }

  /**
   * Allocate an id, deliver the event live, and queue it for the log. Never waits. `data` is
   * the event's data, or its one-line JSON already.
   */
  publish(event: string, data: Record<string, unknown> | string, messageId: string | null): void {
    this.publishEvent(event, typeof data === 'string' ? data : JSON.stringify(data), messageId, undefined)
  }

  /**
   * Publish a `delta` whose data is `{"messageId":…,"text":<text>}`: `prefix` is its
   * `{"messageId":…,"text":` part, `text` the JSON string literal of the text.
   */
  publishDelta(messageId: string, prefix: string, text: string): void {
    this.publishEvent('delta', `${prefix}${text}}`, messageId, text)
  }

  private publishEvent(event: string, data: string, messageId: string | null, text: string | undefined): void {
    if (this.blocked.length === 0) {
      const id = this.take()
      if (id !== undefined) {
        this.emit(text === undefined ? {id, event, messageId, data} : {id, event, messageId, data, text})
        return
      }
    }
    this.blocked.push(text === undefined ? {event, data, messageId} : {event, data, messageId, text})
    this.reserve()
  }

  /**
   * The last event of a turn: stored by `commit` together with the unwritten events (the turn's
   * messages go in the same transaction), and delivered once stored — or, with `deliverFirst`,
   * as soon as the commit is under way (stored() covers the gap). A failing commit is logged;
   * the event is delivered anyway, so every client still sees exactly one terminal event.
   * Resolves once the event is both delivered and stored.
   */
  async publishTerminal(event: string, data: Record<string, unknown>, messageId: string, commit: TerminalCommit, options: TerminalOptions = {}): Promise<SessionEvent> {
    while (this.blocked.length > 0 || this.available() === 0) {
      if (this.gone) break
      this.reserve()
      await this.reserving
    }
    if (this.blocked.length > 0) this.drainBlocked()
    const id = this.take() ?? ++this.nextId
    const ev: SessionEvent = {id, event, messageId, data: JSON.stringify(data)}
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    const store = async (): Promise<void> => {
      // Events already handed to the writer go first: the log never misses what `done` follows.
      if (this.flushing) await this.flushing
      const batch = this.pending
      this.pending = []
      try {
        batch.push(ev)
        await commit(batch)
      } catch (err) {
        this.log('error', `session ${this.key.slice(0, 8)}…: could not store the turn: ${describe(err)}`)
      }
    }
    if (!options.deliverFirst) {
      await store()
      this.end(ev, options)
      return ev
    }
    // The commit is queued (synchronously, when nothing is being flushed) before the event goes out.
    const storing = store()
    this.storing = storing
    this.end(ev, options)
    await storing
    if (this.storing === storing) this.storing = undefined
    this.onMaybeIdle(this)
    return ev
  }

  private end(ev: SessionEvent, options: TerminalOptions): void {
    this.remember(ev)
    this.deliver(ev)
    options.onDelivered?.()
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
      const stored = await sessionRepo(this.store.sql).eventLogAfter(this.key, after)
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

  private emit(ev: SessionEvent): void {
    this.remember(ev)
    this.pending.push(ev)
    this.scheduleFlush()
    this.deliver(ev)
  }

  private deliver(ev: SessionEvent): void {
    // A listener subscribed by another listener waits for the next event.
    const {size} = this.listeners
    let n = 0
    for (const listener of this.listeners) {
      if (n++ === size) break
      try {
        listener(ev)
      } catch (err) {
        this.log('error', `session event listener failed: ${describe(err)}`)
      }
    }
  }

  private remember(ev: SessionEvent): void {
    this.recent.push(ev)
    if (this.recent.length > RECENT_MAX * 2) this.recent.splice(0, this.recent.length - RECENT_MAX)
  }

  private available(): number {
    let n = 0
    for (const [first, last] of this.blocks) n += last - Math.max(first, this.nextId + 1) + 1
    return n
  }

  /** The next reserved id, or undefined when none is left (then a reservation is started). */
  private take(): number | undefined {
    while (this.blocks.length > 0) {
      const [first, last] = this.blocks[0]!
      const id = Math.max(first, this.nextId + 1)
      if (id <= last) {
        this.nextId = id
        if (this.available() < LOW_WATER) this.reserve()
        return id
      }
      this.blocks.shift()
    }
    if (this.gone) return ++this.nextId
    this.reserve()
    return undefined
  }

  /** Reserve the next block in the background (one at a time). */
  private reserve(): void {
    if (this.reserving || this.gone) return
    // Batched with other sessions', after this turn of the event loop (a turn's provider
    // request goes out before this statement holds the loop).
    this.reserving = this.work.reserves
      .run({key: this.key, count: ID_BLOCK})
      .then(
        (last) => {
          if (last === undefined) this.gone = true
          else this.addBlock(last, ID_BLOCK)
        },
        (err) => {
          // Not fatal: the events still go out live, with ids of this process only.
          this.log('warn', `session ${this.key.slice(0, 8)}…: could not reserve event ids: ${describe(err)}`)
          this.gone = true
        },
      )
      .finally(() => {
        this.reserving = undefined
        this.drainBlocked()
        this.onMaybeIdle(this)
      })
  }

  private drainBlocked(): void {
    while (this.blocked.length > 0) {
      const id = this.take()
      if (id === undefined) return
      const b = this.blocked.shift()!
      this.emit(b.text === undefined ? {id, event: b.event, messageId: b.messageId, data: b.data} : {id, event: b.event, messageId: b.messageId, data: b.data, text: b.text})
    }
  }

  private scheduleFlush(): void {
    if (this.flushing) return
    if (this.pending.length >= FLUSH_EVENTS) {
      clearTimeout(this.flushTimer)
      this.flushTimer = undefined
      this.flush()
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined
        this.flush()
      }, FLUSH_AFTER_MS)
      this.flushTimer.unref?.()
    }
  }

  /** Write the pending events behind (batched with other sessions'). */
  private flush(): void {
    if (this.flushing || this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    this.flushing = this.work.events
      .run({key: this.key, events: batch})
      .catch((err) => this.log('warn', `session events could not be written (replay may miss them): ${describe(err)}`))
      .finally(() => {
        this.flushing = undefined
        if (this.pending.length > 0) this.scheduleFlush()
        this.onMaybeIdle(this)
      })
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The hubs of this process, created on demand and dropped when idle. */
export class HubRegistry {
  private readonly hubs = new Map<string, SessionHub>()

  constructor(
    private readonly store: Store,
    private readonly work: SessionWork,
    private readonly log: Logger,
  ) {}

  get(key: string): SessionHub {
    let hub = this.hubs.get(key)
    if (!hub) {
      hub = new SessionHub(key, this.store, this.work, this.log, (h) => this.dropIfIdle(h))
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
    // Deferred: whoever triggered this may still be about to use the hub in this tick. One
    // check of every candidate at the end of the event loop's turn.
    this.candidates.add(hub)
    if (this.sweepScheduled) return
    this.sweepScheduled = true
    setImmediate(this.sweep)
  }

  private readonly candidates = new Set<SessionHub>()
  private sweepScheduled = false
  private readonly sweep = (): void => {
    this.sweepScheduled = false
    for (const hub of this.candidates) if (hub.idle && this.hubs.get(hub.key) === hub) this.hubs.delete(hub.key)
    this.candidates.clear()
  }
}

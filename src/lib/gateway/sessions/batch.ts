/**
 * Batching of the chat hot path's database work.
 *
 * PGlite runs every statement synchronously on the gateway's one event loop, and a statement
 * costs far more than a row: 200 turns each loading their session alone queue 200 statements
 * behind each other, the same 200 in one statement take a few milliseconds. So session
 * creation, turn loads, id reservations, event log writes and end-of-turn commits of all
 * sessions go through Batchers: what is queued while a statement runs goes into the next one.
 * Creations and loads start at once when the batcher was idle (a lone request waits for
 * nothing) and gather a burst otherwise; the work that follows a turn's first token (ids,
 * log, commit) starts at the end of the event loop's turn, after the sockets were written.
 */
import {AsyncResource} from 'node:async_hooks'

import {sessionRepo, type NewSession, type SessionEventRow, type SessionRow, type TurnCommitItem, type TurnLoadRequest, type TurnLoadRow} from '../store/repos/sessions.js'
import type {Store} from '../store/types.js'

export interface BatcherOptions {
  maxBatch?: number
  /** Retry the items one by one when a batch of several fails. */
  isolateFailures?: boolean
  /**
   * Start an idle batcher at the end of the current turn of the event loop (setImmediate)
   * rather than at once: what is already under way in this turn (the socket writes of streams,
   * a provider request) goes out first — a PGlite statement holds the event loop while it runs —
   * and the work queued during this turn joins the batch. `'busy'`: only when the previous batch
   * ended less than BUSY_MS ago (a lone request waits for nothing, a burst is batched).
   */
  defer?: boolean | 'busy'
  /**
   * Group items for up to this long (ms after the oldest queued one) before running them, unless
   * flushNow() asks for them: for work nobody waits for, such as the commit of a turn whose end
   * was already delivered, so that a burst of turns is stored after it in one statement rather
   * than in many statements competing with it for the CPU.
   */
  windowMs?: number
}

/** See BatcherOptions.defer. */
const BUSY_MS = 5

interface Queued<In, Out> {
  item: In
  /** performance.now() when it was queued. */
  at: number
  resolve: (value: Out) => void
  reject: (err: unknown) => void
}

/**
 * Runs `flush` over the items queued meanwhile, one flush at a time, in arrival order. A flush
 * never runs in a caller's async context: it belongs to none of its callers (whose store
 * transaction, say, must not see it: the store follows its transactions with
 * AsyncLocalStorage, which a microtask or setImmediate would carry over), but to the batcher's
 * own, bound when the batcher is built.
 */
export class Batcher<In, Out> {
  private queue: Queued<In, Out>[] = []
  private running = false
  private lastEnd = -Infinity
  /** Set by flushNow(): no more waiting until the queue is empty. */
  private urgent = false
  /** Ends the current wait of the window early. */
  private wake: (() => void) | undefined
  /** flushNow() found nothing queued: the next wait is skipped. */
  private demand = false
  /** closeWindow() was called. */
  private windowClosed = false
  private readonly start = AsyncResource.bind(() => void this.drain())

  constructor(
    private readonly flush: (items: In[]) => Promise<Out[]>,
    private readonly options: BatcherOptions = {},
  ) {}

  run(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({item, at: performance.now(), resolve, reject})
      if (this.running) return
      this.running = true
      const {defer} = this.options
      if (defer === true || (defer === 'busy' && performance.now() - this.lastEnd < BUSY_MS)) setImmediate(this.start)
      else queueMicrotask(this.start)
    })
  }

  /**
   * Someone waits for the queued items: run them without waiting for the window. Asked while
   * nothing is queued (the item is on its way), the next item does not wait either.
   */
  flushNow(): void {
    if (this.queue.length === 0) this.demand = true
    else this.urgent = true
    this.wake?.()
  }

  /** From now on, no item waits for the window (shutdown). */
  closeWindow(): void {
    this.windowClosed = true
    this.wake?.()
  }

  /** Until the window of the oldest queued item is over, or flushNow(). */
  private async waitWindow(): Promise<void> {
    const windowMs = this.options.windowMs ?? 0
    if (this.demand) {
      this.demand = false
      return
    }
    const due = windowMs > 0 && !this.urgent && !this.windowClosed ? this.queue[0]!.at + windowMs - performance.now() : 0
    if (due <= 0) return
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, due)
      this.wake = done
    })
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        await this.waitWindow()
        const batch = this.queue.splice(0, this.options.maxBatch ?? 500)
        try {
          const out = await this.flush(batch.map((q) => q.item))
          batch.forEach((q, i) => q.resolve(out[i] as Out))
        } catch (err) {
          if (!this.options.isolateFailures || batch.length === 1) {
            for (const q of batch) q.reject(err)
            continue
          }
          // One bad item must not fail the others: retry each alone.
          for (const q of batch) {
            try {
              q.resolve(((await this.flush([q.item])) as Out[])[0] as Out)
            } catch (single) {
              q.reject(single)
            }
          }
        }
      }
    } finally {
      this.running = false
      this.urgent = false
      this.lastEnd = performance.now()
    }
  }
}

/** The batched database work of the sessions of one store. */
export class SessionWork {
  /** → the session row when it was inserted (its agent exists and the thread is new). */
  readonly creates: Batcher<NewSession, SessionRow | undefined>
  readonly loads: Batcher<TurnLoadRequest, TurnLoadRow | undefined>
  readonly reserves: Batcher<{key: string; count: number}, number | undefined>
  readonly events: Batcher<{key: string; events: SessionEventRow[]}, void>
  /** → the session's last_event_id after the commit, undefined when it no longer exists. */
  readonly commits: Batcher<TurnCommitItem, number | undefined>

  /** `commitWindowMs`: see BatcherOptions.windowMs (0: commits start at once). */
  constructor(store: Store, options: {commitWindowMs?: number} = {}) {
    // PGlite is one connection: its hot statements are prepared once (planning them costs more
    // than running them). A pool (PostgreSQL) would need them on every connection: not there.
    const repo = sessionRepo(store.sql, {prepare: store.kind === 'pglite'})
    this.creates = new Batcher(
      async (items) => {
        // One insert per (org, user, agent, thread): a second one finds the thread taken.
        const seen = new Set<string>()
        const distinct = items.filter((i) => {
          const id = `${i.orgId}\u0000${i.userId}\u0000${i.agentId}\u0000${i.thread}`
          return !seen.has(id) && Boolean(seen.add(id))
        })
        const rows = await repo.insertIfAgent(distinct)
        return items.map((i) => rows.get(i.key))
      },
      {defer: 'busy'},
    )
    this.loads = new Batcher(
      async (items) => {
        // One request per (key, org, user) in the statement; duplicates share its row. The
        // statement checks each request's owner: its answers are per request, never by key.
        const requests: TurnLoadRequest[] = []
        const slot = new Map<string, number>()
        const slots = items.map((item) => {
          const id = `${item.key}\u0000${item.orgId}\u0000${item.userId}`
          const at = slot.get(id)
          if (at === undefined) {
            slot.set(id, requests.length)
            return requests.push(item) - 1
          }
          // Two callers holding different agent versions: ask for the spec.
          if (requests[at]!.agentVersion !== item.agentVersion) requests[at] = {...requests[at]!, agentVersion: null}
          return at
        })
        const rows = await repo.loadTurns(requests)
        return slots.map((at) => rows[at])
      },
      {defer: 'busy'},
    )
    this.reserves = new Batcher(
      async (items) => {
        // A key twice in one batch would be updated once: such a batch is split.
        const out: (number | undefined)[] = []
        let rest = items.map((item, index) => ({item, index}))
        while (rest.length > 0) {
          const seen = new Set<string>()
          const now = rest.filter(({item}) => !seen.has(item.key) && seen.add(item.key))
          rest = rest.filter((x) => !now.includes(x))
          const last = await repo.reserveEventIdsMany(now.map((x) => x.item))
          for (const {item, index} of now) out[index] = last.get(item.key)
        }
        return out
      },
      {defer: true},
    )
    this.events = new Batcher<{key: string; events: SessionEventRow[]}, void>(
      async (items) => {
        await repo.appendEventBatches(items)
        return items.map(() => undefined)
      },
      {defer: true},
    )
    this.commits = new Batcher(
      async (items) => {
        // One turn per session at a time: keys are distinct within a batch. One statement: atomic.
        const live = await repo.commitTurns(items)
        return items.map((item) => live.get(item.key))
      },
      {defer: true, isolateFailures: true, windowMs: options.commitWindowMs},
    )
  }
}

/**
 * Everything the sessions of one SessionService keep in memory between requests, in one object.
 *
 * None of it decides who may see a session: the database does, in the statement that loads the
 * session for the caller's org AND user (docs/SECURITY.md). The caches only spare statements or
 * hold what is live in this process; each says what it holds, who fills it, who clears it and
 * its bound.
 */
import type {Logger} from '../http/types.js'
import type {AgentRow, Store} from '../store/types.js'
import type {SessionWork} from './batch.js'
import {HubRegistry} from './hub.js'

/** Bound of SessionCaches.agents. */
const AGENT_CACHE_MAX = 1_000
/** Bound of SessionCaches.sessions. */
export const SESSION_CACHE_MAX = 10_000

/** Reserved event ids [last - count + 1, last]. */
export interface IdBlock {
  last: number
  count: number
}

/** What this instance remembers of one session (see SessionCaches.sessions). */
export interface SessionMemo {
  /** The session's agent: which cached agent version to offer when loading its next turn. */
  agentId?: string
  /**
   * Event ids reserved for the session's next turn by statements that run anyway (the
   * session's INSERT, the commit of its last turn): the turn then reserves nothing on its way.
   * Used only while still the session's latest reservation (prepareTurn checks).
   */
  idBlock?: IdBlock
  /** When this instance last pruned the session's expired events (Date.now()). */
  prunedAt?: number
}

/** The end of a turn that was delivered before it was stored (see deliverBeforeStored). */
export interface UnstoredEnd {
  /** Resolves once it is stored (never rejects). */
  storing: Promise<void>
  /** Runs its commit without waiting for the commit window. */
  flush: () => void
}

/** A Map that forgets its least recently set entry beyond `max`. */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super()
  }

  override set(key: K, value: V): this {
    super.delete(key)
    if (this.size >= this.max) super.delete(this.keys().next().value as K)
    return super.set(key, value)
  }
}

const unstoredByStore = new WeakMap<Store, Map<string, UnstoredEnd>>()

export class SessionCaches {
  /**
   * Agent rows by `org \0 agent`, with the version the database gave them (changes with every
   * write of the row). Filled by prepareTurn from a turn's load, which sends the spec again only
   * when the version it was offered is not the row's current one (an apply, a PUT, a DELETE and
   * re-create, on any instance): a cached row is never used stale. Never cleared (a newer version
   * replaces it, a deleted agent is never offered); bound AGENT_CACHE_MAX, least recently stored
   * dropped.
   */
  readonly agents = new BoundedMap<string, {version: string; row: AgentRow}>(AGENT_CACHE_MAX)

  /**
   * Session key → SessionMemo (agent id, reserved id block, last prune). Filled by create (agent
   * id and the id block reserved by the INSERT), prepareTurn (agent id, prune time; it takes the
   * id block) and the commit of a turn (the id block reserved for the next one). Cleared by
   * forget() when the session is deleted or started afresh; bound SESSION_CACHE_MAX, least
   * recently updated dropped. Losing an entry costs a statement, never a wrong answer.
   */
  readonly sessions = new BoundedMap<string, SessionMemo>(SESSION_CACHE_MAX)

  /**
   * Session key → SessionHub: the session's live state in this process (running turns, event
   * ids, events not yet stored, subscribers, open SSE responses). Filled on demand by a turn, an
   * /events stream or a tracked response; each hub drops itself once idle (nothing of the above
   * left). Bounded by the sessions in use.
   */
  readonly hubs: HubRegistry

  /**
   * Session key → the end of its last turn, delivered (`done` sent) but not stored yet
   * (deliverBeforeStored, PGlite). Shared by every SessionService over the same Store (gateways
   * over one store in one process), so that whichever reads the session waits for that commit
   * first. Filled when such an end is delivered, cleared once it is stored; bounded by the turns
   * in their commit window.
   */
  readonly unstored: Map<string, UnstoredEnd>

  constructor(store: Store, work: SessionWork, log: Logger) {
    this.hubs = new HubRegistry(store, work, log)
    let unstored = unstoredByStore.get(store)
    if (!unstored) unstoredByStore.set(store, (unstored = new Map()))
    this.unstored = unstored
  }

  /** The memo of a session, updated (and made the most recent). */
  remember(key: string, update: SessionMemo): void {
    this.sessions.set(key, {...this.sessions.get(key), ...update})
  }

  /** A session was deleted or started afresh: what this instance knew of it is moot. */
  forget(key: string): void {
    this.sessions.delete(key)
  }
}

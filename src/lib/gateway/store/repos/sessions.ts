/**
 * Sessions, their message history and their SSE event log (migration 2).
 *
 * Not part of StoreTx: build it over any Sql, `sessionRepo(store.sql)` or, inside a
 * transaction, `sessionRepo(tx.sql)`. Every lookup of a session takes the caller's org AND
 * user in the same query (S4); the event and message helpers take a session key that was
 * loaded that way first.
 */
import type {Sql} from '../types.js'
import {type Raw, first, toDate} from './rows.js'

export interface SessionRow {
  key: string
  orgId: string
  userId: string
  agentId: string
  thread: string
  lastEventId: number
  createdAt: Date
  updatedAt: Date
}

export type MessageRole = 'user' | 'assistant'

export interface SessionMessageRow {
  messageId: string
  role: MessageRole
  content: string
  /** `partial`: an assistant reply cut short by an error or an abort. */
  status: 'complete' | 'partial'
  createdAt: Date
}

export interface SessionEventRow {
  id: number
  messageId: string | null
  event: string
  /** One-line JSON. */
  data: string
}

export interface NewSessionMessage {
  messageId: string
  role: MessageRole
  content: string
  status?: 'complete' | 'partial'
}

export interface SessionOwner {
  orgId: string
  userId: string
}

const COLUMNS = 'key, org_id, user_id, agent_id, thread, last_event_id, created_at, updated_at'

function toSession(r: Raw): SessionRow {
  return {
    key: String(r.key),
    orgId: String(r.org_id),
    userId: String(r.user_id),
    agentId: String(r.agent_id),
    thread: String(r.thread),
    lastEventId: Number(r.last_event_id),
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
  }
}

function toMessage(r: Raw): SessionMessageRow {
  return {
    messageId: String(r.message_id),
    role: String(r.role) as MessageRole,
    content: String(r.content),
    status: String(r.status) === 'partial' ? 'partial' : 'complete',
    createdAt: toDate(r.created_at),
  }
}

function toEvent(r: Raw): SessionEventRow {
  return {
    id: Number(r.id),
    messageId: r.message_id === null || r.message_id === undefined ? null : String(r.message_id),
    event: String(r.event),
    data: String(r.data),
  }
}

export interface SessionRepo {
  /** The session with this key, only when it belongs to this org AND user (one query). */
  get(owner: SessionOwner, key: string): Promise<SessionRow | undefined>
  /** The session of (org, user, agent, thread), if any. */
  findByThread(owner: SessionOwner, agentId: string, thread: string): Promise<SessionRow | undefined>
  /** Insert a session; returns undefined when (org, user, agent, thread) already exists. */
  insert(input: SessionOwner & {key: string; agentId: string; thread: string}): Promise<SessionRow | undefined>
  /** Delete a session (history and events cascade) of this org and user; false when none matched. */
  delete(owner: SessionOwner, key: string): Promise<boolean>
  /** Delete the session of (org, user, agent, thread); its key, or undefined when there was none. */
  deleteByThread(owner: SessionOwner, agentId: string, thread: string): Promise<string | undefined>
  /** Messages of a session, oldest first. */
  messages(key: string): Promise<SessionMessageRow[]>
  /** Append messages in order; false when the session no longer exists. */
  appendMessages(key: string, messages: NewSessionMessage[]): Promise<boolean>
  /**
   * Reserve `count` event ids: returns the last id of the block (the block is
   * `[last - count + 1, last]`), or undefined when the session no longer exists.
   */
  reserveEventIds(key: string, count: number): Promise<number | undefined>
  /** Append events (ids from reserveEventIds); rows of a deleted session are skipped. */
  appendEvents(key: string, events: SessionEventRow[]): Promise<void>
  /** The highest id in the session's event log (0 when empty). */
  lastEventId(key: string): Promise<number>
  /** Events with an id above `afterId`, in order (at most `limit`). */
  eventsAfter(key: string, afterId: number, limit?: number): Promise<SessionEventRow[]>
  /** Forget events older than `before` (replay is for reconnects, not for archives). */
  pruneEvents(key: string, before: Date): Promise<void>
}

export function sessionRepo(sql: Sql): SessionRepo {
  return {
    async get({orgId, userId}, key) {
      const row = first(
        await sql.query<Raw>(`SELECT ${COLUMNS} FROM sessions WHERE key = $1 AND org_id = $2 AND user_id = $3`, [key, orgId, userId]),
      )
      return row && toSession(row)
    },
    async findByThread({orgId, userId}, agentId, thread) {
      const row = first(
        await sql.query<Raw>(
          `SELECT ${COLUMNS} FROM sessions WHERE org_id = $1 AND user_id = $2 AND agent_id = $3 AND thread = $4`,
          [orgId, userId, agentId, thread],
        ),
      )
      return row && toSession(row)
    },
    async insert({key, orgId, userId, agentId, thread}) {
      const row = first(
        await sql.query<Raw>(
          `INSERT INTO sessions (key, org_id, user_id, agent_id, thread) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (org_id, user_id, agent_id, thread) DO NOTHING
           RETURNING ${COLUMNS}`,
          [key, orgId, userId, agentId, thread],
        ),
      )
      return row && toSession(row)
    },
    async delete({orgId, userId}, key) {
      const rows = await sql.query<Raw>('DELETE FROM sessions WHERE key = $1 AND org_id = $2 AND user_id = $3 RETURNING key', [key, orgId, userId])
      return rows.length > 0
    },
    async deleteByThread({orgId, userId}, agentId, thread) {
      const row = first(
        await sql.query<Raw>('DELETE FROM sessions WHERE org_id = $1 AND user_id = $2 AND agent_id = $3 AND thread = $4 RETURNING key', [
          orgId,
          userId,
          agentId,
          thread,
        ]),
      )
      return row ? String(row.key) : undefined
    },
    async messages(key) {
      const rows = await sql.query<Raw>(
        'SELECT message_id, role, content, status, created_at FROM session_messages WHERE session_key = $1 ORDER BY seq',
        [key],
      )
      return rows.map(toMessage)
    },
    async appendMessages(key, messages) {
      const touched = await sql.query<Raw>('UPDATE sessions SET updated_at = now() WHERE key = $1 RETURNING key', [key])
      if (touched.length === 0) return false
      if (messages.length === 0) return true
      const params: unknown[] = [key]
      const values = messages.map((m) => {
        params.push(m.messageId, m.role, m.content, m.status ?? 'complete')
        const n = params.length
        return `($1, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`
      })
      await sql.query(`INSERT INTO session_messages (session_key, message_id, role, content, status) VALUES ${values.join(', ')}`, params)
      return true
    },
    async reserveEventIds(key, count) {
      const row = first(
        await sql.query<Raw>('UPDATE sessions SET last_event_id = last_event_id + $2 WHERE key = $1 RETURNING last_event_id', [key, count]),
      )
      return row ? Number(row.last_event_id) : undefined
    },
    async appendEvents(key, events) {
      if (events.length === 0) return
      const params: unknown[] = [key]
      const values = events.map((e) => {
        params.push(e.id, e.messageId, e.event, e.data)
        const n = params.length
        return `($${n - 3}::bigint, $${n - 2}::text, $${n - 1}::text, $${n}::text)`
      })
      // Joined to sessions so that events of a session deleted meanwhile are dropped, not an FK error.
      await sql.query(
        `INSERT INTO session_events (session_key, id, message_id, event, data)
         SELECT s.key, v.id, v.message_id, v.event, v.data
         FROM (VALUES ${values.join(', ')}) AS v (id, message_id, event, data)
         JOIN sessions s ON s.key = $1
         ON CONFLICT (session_key, id) DO NOTHING`,
        params,
      )
    },
    async lastEventId(key) {
      const row = first(await sql.query<Raw>('SELECT max(id) AS id FROM session_events WHERE session_key = $1', [key]))
      return row?.id === null || row?.id === undefined ? 0 : Number(row.id)
    },
    async eventsAfter(key, afterId, limit = 10_000) {
      const rows = await sql.query<Raw>(
        'SELECT id, message_id, event, data FROM session_events WHERE session_key = $1 AND id > $2 ORDER BY id LIMIT $3',
        [key, afterId, limit],
      )
      return rows.map(toEvent)
    },
    async pruneEvents(key, before) {
      await sql.query('DELETE FROM session_events WHERE session_key = $1 AND created_at < $2', [key, before])
    },
  }
}

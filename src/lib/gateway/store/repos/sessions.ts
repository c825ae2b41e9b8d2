/**
 * Sessions, their message history and their SSE event log (migration 2).
 *
 * Not part of StoreTx: build it over any Sql, `sessionRepo(store.sql)` or, inside a
 * transaction, `sessionRepo(tx.sql)`. Every lookup of a session takes the caller's org AND
 * user in the same query (docs/SECURITY.md S4); the event and message helpers take a session key that was
 * loaded that way first.
 */
import type {AgentSpec, Sql} from '../types.js'
import {packEvents, unpackEvents, type SessionEventRow} from '../event-codec.js'
import {type Raw, first, toDate, toJson, toStringOrNull} from './rows.js'

export type {SessionEventRow} from '../event-codec.js'

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

export type MessageRole = 'user' | 'assistant' | 'tool'

export interface SessionMessageRow {
  messageId: string
  role: MessageRole
  content: string
  /** `partial`: an assistant reply cut short by an error or an abort. */
  status: 'complete' | 'partial'
  /** Tool data (migration 4), JSON: `{"calls":[…]}` on an assistant message, `{"callId","name","isError"}` on a tool message. */
  tool: string | null
  createdAt: Date
}

export interface NewSessionMessage {
  messageId: string
  role: MessageRole
  content: string
  status?: 'complete' | 'partial'
  /** See SessionMessageRow.tool. */
  tool?: string | null
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
    tool: toStringOrNull(r.tool),
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

/** One turn to load (SessionRepo.loadTurns). */
export interface TurnLoadRequest extends SessionOwner {
  key: string
  /** The agent version the caller holds (from an earlier load): its spec is then not sent again. */
  agentVersion?: string | null
}

/** Everything a turn needs before the provider is called, from ONE read-only statement. */
export interface TurnLoadRow {
  session: SessionRow
  /** undefined when the session's agent no longer exists. */
  agent?: {
    /** Changes with every write of the agent row. */
    version: string
    /** undefined when `version` equals the requested agentVersion (the caller's copy is current). */
    spec?: AgentSpec
    managedBy: string | null
    createdAt: Date
    updatedAt: Date
  }
  /** The history, oldest first (`tool`: see SessionMessageRow.tool). */
  history: {role: MessageRole; content: string; tool: string | null}[]
  /** Org secrets named by the agent's providers (`key.kind = "secret"`): name → ciphertext. */
  secrets: Map<string, string>
  /** Providers the user holds a grant of for this agent (any status). */
  grantTargets: string[]
}

/** The end of one turn (SessionRepo.commitTurns). */
export interface TurnCommitItem {
  key: string
  messages: NewSessionMessage[]
  /** Events to add to the log (ids from reserveEventIds), stored packed (see event-codec.ts). */
  events: SessionEventRow[]
  /** Also forget this session's events older than this. */
  pruneBefore?: Date
  /** Reserve this many event ids for the session's next turn (0: none). */
  reserveNext?: number
}

const INSERT_SESSIONS = `
INSERT INTO sessions (key, org_id, user_id, agent_id, thread, last_event_id)
SELECT r.key, a.org_id, r.user_id, a.agent_id, r.thread, r.reserve
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS r (key, org_id, user_id, agent_id, thread, reserve)
JOIN agents a ON a.org_id = r.org_id AND a.agent_id = r.agent_id
ON CONFLICT (org_id, user_id, agent_id, thread) DO NOTHING
RETURNING ${COLUMNS}`

/** Changes with every write of an agent row (a new row version has a new xmin). */
const AGENT_VERSION = `a.xmin::text || '/' || floor(extract(epoch FROM a.updated_at) * 1000000)::text`

/**
 * Each session is found by its primary key alone (OFFSET 0 keeps the subquery apart), then its
 * owner is checked: joined on key, org and user at once, the prepared statement's generic plan
 * could pick the (org, user, agent, thread) index and read every session of the user for each
 * turn (seen with PGlite, whose tables are never analysed: a turn's load grew with the number
 * of the user's sessions, ~0.5 ms per turn at 3 000 sessions).
 */
export const LOAD_TURNS = `
SELECT req.ord, s.key, s.org_id, s.user_id, s.agent_id, s.thread, s.last_event_id, s.created_at, s.updated_at,
  ${AGENT_VERSION} AS agent_version,
  CASE WHEN ${AGENT_VERSION} IS DISTINCT FROM req.agent_version THEN a.spec END AS agent_spec,
  a.managed_by AS agent_managed_by, a.created_at AS agent_created_at, a.updated_at AS agent_updated_at,
  ARRAY(SELECT json_build_array(m.role, m.content, m.tool)::text FROM session_messages m WHERE m.session_key = s.key ORDER BY m.seq) AS history,
  ARRAY(SELECT json_build_array(x.name, x.ciphertext)::text FROM secrets x
        WHERE x.org_id = s.org_id
          AND a.spec -> 'providers' @> jsonb_build_array(jsonb_build_object('key', jsonb_build_object('kind', 'secret', 'name', x.name)))) AS secrets,
  ARRAY(SELECT g.target FROM oauth_grants g
        WHERE g.org_id = s.org_id AND g.user_id = s.user_id AND g.agent_id = s.agent_id AND g.kind = 'provider') AS grant_targets
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS req (key, org_id, user_id, agent_version, ord)
JOIN LATERAL (SELECT * FROM sessions WHERE sessions.key = req.key OFFSET 0) s ON s.org_id = req.org_id AND s.user_id = req.user_id
LEFT JOIN agents a ON a.org_id = s.org_id AND a.agent_id = s.agent_id`

function toTurnLoad(r: Raw): TurnLoadRow {
  const version = toStringOrNull(r.agent_version)
  const spec = r.agent_spec === null || r.agent_spec === undefined ? undefined : toJson<AgentSpec>(r.agent_spec)
  const pairs = (value: unknown) => (Array.isArray(value) ? value.map((v) => JSON.parse(String(v)) as [string, string, (string | null)?]) : [])
  return {
    session: toSession(r),
    agent:
      version === null
        ? undefined
        : {version, spec, managedBy: toStringOrNull(r.agent_managed_by), createdAt: toDate(r.agent_created_at), updatedAt: toDate(r.agent_updated_at)},
    history: pairs(r.history).map(([role, content, tool]) => ({role: role as MessageRole, content, tool: tool ?? null})),
    secrets: new Map(pairs(r.secrets).map(([name, ciphertext]) => [name, ciphertext] as const)),
    grantTargets: Array.isArray(r.grant_targets) ? r.grant_targets.map(String) : [],
  }
}

/**
 * The end of several turns as ONE statement (so one implicit transaction, atomic on both
 * drivers): touch the sessions and reserve their next ids, then — for the sessions that still
 * exist — insert the messages in order (seq follows the ordinality), the packed events, and
 * prune expired events. All parameters are arrays: the statement's size does not grow with the
 * number of turns.
 */
const commitTurnsSql: StatementText = (encoded) => `
WITH u AS (
  UPDATE sessions SET updated_at = now(), last_event_id = sessions.last_event_id + i.reserve
  FROM unnest($1::text[], $2::bigint[]) AS i (key, reserve)
  WHERE sessions.key = i.key
  RETURNING sessions.key, sessions.last_event_id
), m AS (
  INSERT INTO session_messages (session_key, message_id, role, content, status, tool)
  SELECT v.session_key, v.message_id, v.role, ${b64(encoded, 'v.content')}, v.status, ${b64(encoded, 'v.tool')}
  FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $15::text[]) WITH ORDINALITY AS v (session_key, message_id, role, content, status, tool, ord)
  JOIN u ON u.key = v.session_key
  ORDER BY v.ord
  RETURNING 1
), e AS (
  INSERT INTO session_events (session_key, id, message_id, event, data)
  SELECT v.session_key, v.id, v.message_id, v.event, ${b64(encoded, 'v.data')}
  FROM unnest($8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[]) AS v (session_key, id, message_id, event, data)
  JOIN u ON u.key = v.session_key
  ON CONFLICT (session_key, id) DO NOTHING
  RETURNING 1
), p AS (
  DELETE FROM session_events d
  USING unnest($13::text[], $14::timestamptz[]) AS x (key, before)
  WHERE d.session_key = x.key AND d.created_at < x.before AND x.key IN (SELECT key FROM u)
  RETURNING 1
)
SELECT key, last_event_id FROM u`

/** Rows of several sessions' events as one unnest() insert; events of deleted sessions are dropped. */
async function insertEventRows(sql: Sql, rows: readonly (SessionEventRow & {key: string})[]): Promise<void> {
  const CHUNK = 5_000
  for (let i = 0; i < rows.length; i += CHUNK) {
    const part = rows.slice(i, i + CHUNK)
    await sql.query(
      `INSERT INTO session_events (session_key, id, message_id, event, data)
       SELECT v.session_key, v.id, v.message_id, v.event, v.data
       FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[]) AS v (session_key, id, message_id, event, data)
       JOIN sessions s ON s.key = v.session_key
       ON CONFLICT (session_key, id) DO NOTHING`,
      [part.map((r) => r.key), part.map((r) => r.id), part.map((r) => r.messageId), part.map((r) => r.event), part.map((r) => r.data)],
    )
  }
}

/** A session to create (SessionRepo.insertIfAgent). */
export interface NewSession extends SessionOwner {
  key: string
  agentId: string
  thread: string
  /** Event ids to reserve for the creator. */
  reserve?: number
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
  /**
   * Load several turns at once, ONE read-only statement: each session only when it belongs to
   * the request's org AND user (docs/SECURITY.md S4), with its agent (the spec only when it changed since
   * `agentVersion`), history, the org secrets its providers name and the user's provider grant
   * targets. One entry per request, in order: undefined for a session not found, or not the
   * request's org and user's. This is the one owner check of a turn: no caller checks again.
   */
  loadTurns(requests: readonly TurnLoadRequest[]): Promise<(TurnLoadRow | undefined)[]>
  /** reserveEventIds for several sessions in one statement: key → last id (absent: no such session). */
  reserveEventIdsMany(requests: readonly {key: string; count: number}[]): Promise<Map<string, number>>
  /**
   * Insert sessions, each only when its agent exists in its org, in ONE statement: the rows
   * inserted, by key (absent: the agent is missing or (org, user, agent, thread) already exists).
   * `reserve` event ids are reserved for the creator at once (the block is [1, reserve]).
   * Inputs must be distinct by (org, user, agent, thread).
   */
  insertIfAgent(inputs: readonly NewSession[]): Promise<Map<string, SessionRow>>
  /**
   * Store the end of several turns in ONE statement (atomic): touch the sessions (and reserve
   * ids for their next turn), append each turn's messages in order and its events packed, prune
   * where asked. Returns, for each session that still exists, its last_event_id after the
   * reservation (the others are skipped). Keys must be distinct.
   */
  commitTurns(items: readonly TurnCommitItem[]): Promise<Map<string, number>>
  /** Append events of several sessions, packed one row per session (rows of deleted sessions are dropped). */
  appendEventBatches(batches: readonly {key: string; events: readonly SessionEventRow[]}[]): Promise<void>
  /** The events above `afterId`, packed rows unpacked, in id order (at most `limit` stored rows). */
  eventLogAfter(key: string, afterId: number, limit?: number): Promise<SessionEventRow[]>
}

export interface SessionRepoOptions {
  /**
   * Run the statements of the chat hot path (loadTurns, insertIfAgent) as server-side prepared
   * statements. Meant for a single-connection database (PGlite), where planning them costs more
   * than running them; a prepared statement is per connection, so not for a pool.
   */
  prepare?: boolean
}

/**
 * An array parameter of a hot statement. `free` text (message contents, event data) may hold
 * anything: a prepared statement gets it base64-encoded and decodes it itself (see b64()).
 */
type ArrayArg =
  | {type: 'text'; values: readonly (string | null)[]; free?: boolean}
  | {type: 'bigint'; values: readonly number[]}
  | {type: 'timestamptz'; values: readonly Date[]}

/**
 * Values that can be written into SQL as literals with no quoting question at all: ids, keys,
 * thread names, versions, timestamps, base64 (no quote, backslash, space or control character).
 * Anything else is only ever sent as a bind parameter.
 */
const PLAIN_VALUE = /^[A-Za-z0-9_.:/+=$-]*$/

/** `ARRAY[…]::type[]` literal of the values, or undefined when one of them is not plain. */
function arrayLiteral(arg: ArrayArg): string | undefined {
  const parts: string[] = []
  for (const v of arg.values) {
    if (v === null) {
      parts.push('NULL')
    } else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) return undefined
      parts.push(String(v))
    } else {
      const text = v instanceof Date ? v.toISOString() : arg.type === 'text' && arg.free ? Buffer.from(v, 'utf8').toString('base64') : v
      if (!PLAIN_VALUE.test(text)) return undefined
      parts.push(`'${text}'`)
    }
  }
  return `ARRAY[${parts.join(',')}]::${arg.type}[]`
}

/** A statement's SQL; `encoded`: its free text parameters arrive base64-encoded. */
type StatementText = (encoded: boolean) => string

/** In a statement's SQL: the value of a free text parameter column. */
function b64(encoded: boolean, column: string): string {
  return encoded ? `convert_from(decode(${column}, 'base64'), 'UTF8')` : column
}

const prepared = new WeakMap<Sql, Map<string, Promise<boolean>>>()

/**
 * Run a statement (array parameters $1…$n) as the prepared statement `name` of this connection:
 * PREPARE once, then EXECUTE with literal arguments. Falls back to an ordinary query when an
 * argument is not plain or the statement cannot be prepared.
 */
async function queryPrepared(sql: Sql, name: string, text: StatementText, args: readonly ArrayArg[]): Promise<Raw[]> {
  let statements = prepared.get(sql)
  if (!statements) prepared.set(sql, (statements = new Map()))
  let ready = statements.get(name)
  if (!ready) {
    ready = sql.query(`PREPARE ${name} (${args.map((a) => `${a.type}[]`).join(', ')}) AS ${text(true)}`).then(
      () => true,
      // 42P05: prepared already (another repo over the same connection).
      (err: unknown) => (err as {code?: unknown} | null)?.code === '42P05',
    )
    statements.set(name, ready)
  }
  if (await ready) {
    const literals = args.map(arrayLiteral)
    if (literals.every((l) => l !== undefined)) return sql.query<Raw>(`EXECUTE ${name} (${literals.join(', ')})`)
  }
  return queryParams(sql, text, args)
}

function queryParams(sql: Sql, text: StatementText, args: readonly ArrayArg[]): Promise<Raw[]> {
  return sql.query<Raw>(
    text(false),
    args.map((a) => [...a.values]),
  )
}

export function sessionRepo(sql: Sql, options: SessionRepoOptions = {}): SessionRepo {
  const run = (name: string, text: StatementText, args: readonly ArrayArg[]) =>
    options.prepare ? queryPrepared(sql, name, text, args) : queryParams(sql, text, args)
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
        'SELECT message_id, role, content, status, tool, created_at FROM session_messages WHERE session_key = $1 ORDER BY seq',
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
        params.push(m.messageId, m.role, m.content, m.status ?? 'complete', m.tool ?? null)
        const n = params.length
        return `($1, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`
      })
      await sql.query(`INSERT INTO session_messages (session_key, message_id, role, content, status, tool) VALUES ${values.join(', ')}`, params)
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
    async loadTurns(requests) {
      const out: (TurnLoadRow | undefined)[] = Array.from({length: requests.length}, () => undefined)
      if (requests.length === 0) return out
      const rows = await run('lobu_load_turns_v2', () => LOAD_TURNS, [
        {type: 'text', values: requests.map((r) => r.key)},
        {type: 'text', values: requests.map((r) => r.orgId)},
        {type: 'text', values: requests.map((r) => r.userId)},
        {type: 'text', values: requests.map((r) => r.agentVersion ?? null)},
      ])
      for (const row of rows) out[Number(row.ord) - 1] = toTurnLoad(row)
      return out
    },
    async reserveEventIdsMany(requests) {
      const out = new Map<string, number>()
      if (requests.length === 0) return out
      const rows = await sql.query<Raw>(
        `UPDATE sessions SET last_event_id = sessions.last_event_id + r.count
         FROM unnest($1::text[], $2::bigint[]) AS r (key, count)
         WHERE sessions.key = r.key
         RETURNING sessions.key, sessions.last_event_id`,
        [requests.map((r) => r.key), requests.map((r) => r.count)],
      )
      for (const row of rows) out.set(String(row.key), Number(row.last_event_id))
      return out
    },
    async insertIfAgent(inputs) {
      const out = new Map<string, SessionRow>()
      if (inputs.length === 0) return out
      const rows = await run('lobu_insert_sessions_v1', () => INSERT_SESSIONS, [
        {type: 'text', values: inputs.map((i) => i.key)},
        {type: 'text', values: inputs.map((i) => i.orgId)},
        {type: 'text', values: inputs.map((i) => i.userId)},
        {type: 'text', values: inputs.map((i) => i.agentId)},
        {type: 'text', values: inputs.map((i) => i.thread)},
        {type: 'bigint', values: inputs.map((i) => i.reserve ?? 0)},
      ])
      for (const row of rows) out.set(String(row.key), toSession(row))
      return out
    },
    async commitTurns(items) {
      const live = new Map<string, number>()
      if (items.length === 0) return live
      const messages = items.flatMap((i) => i.messages.map((m) => ({key: i.key, ...m})))
      const events = items.flatMap((i) => packEvents(i.events).map((e) => ({key: i.key, ...e})))
      const prune = items.filter((i) => i.pruneBefore)
      const rows = await run('lobu_commit_turns_v2', commitTurnsSql, [
        {type: 'text', values: items.map((i) => i.key)},
        {type: 'bigint', values: items.map((i) => i.reserveNext ?? 0)},
        {type: 'text', values: messages.map((m) => m.key)},
        {type: 'text', values: messages.map((m) => m.messageId)},
        {type: 'text', values: messages.map((m) => m.role)},
        {type: 'text', values: messages.map((m) => m.content), free: true},
        {type: 'text', values: messages.map((m) => m.status ?? 'complete')},
        {type: 'text', values: events.map((e) => e.key)},
        {type: 'bigint', values: events.map((e) => e.id)},
        {type: 'text', values: events.map((e) => e.messageId)},
        {type: 'text', values: events.map((e) => e.event)},
        {type: 'text', values: events.map((e) => e.data), free: true},
        {type: 'text', values: prune.map((i) => i.key)},
        {type: 'timestamptz', values: prune.map((i) => i.pruneBefore!)},
        {type: 'text', values: messages.map((m) => m.tool ?? null), free: true},
      ])
      for (const r of rows) live.set(String(r.key), Number(r.last_event_id))
      return live
    },
    async appendEventBatches(batches) {
      await insertEventRows(
        sql,
        batches.flatMap((b) => packEvents(b.events).map((e) => ({key: b.key, ...e}))),
      )
    },
    async eventLogAfter(key, afterId, limit = 10_000) {
      // A packed row holds events up to its id: those above afterId are in rows with id > afterId.
      const rows = await sql.query<Raw>(
        'SELECT id, message_id, event, data FROM session_events WHERE session_key = $1 AND id > $2 ORDER BY id LIMIT $3',
        [key, afterId, limit],
      )
      return unpackEvents(rows.map(toEvent), afterId)
    },
  }
}

/**
 * The stored form of a session's events: several events packed into one `session_events` row.
 *
 * The row's event is PACKED_EVENT, its id the id of its last event, its message_id that event's;
 * its data is a JSON array of entries:
 *
 * - `[id, event, messageId, data, prefixed]`: one event. messageId 0 = the row's message_id;
 *   prefixed 1 = the data began with the event's `"messageId"` member, which is left out (and
 *   put back on reading);
 * - `[id, 1, messageId, [text, …]]`: a run of `delta` events with consecutive ids from `id`,
 *   each with the data `{"messageId":…,"text":…}`: only their texts are kept.
 *
 * A turn's events then take one small row (no TOAST compression, little to escape): the cost of
 * writing them is mostly per row, and a row with 50 deltas costs little more than one with 3.
 *
 * The round trip is exact for events whose data is JSON.stringify's output (what the hub
 * writes): unpacking re-serializes the data with JSON.stringify.
 */

/** One event of a session's log, as stored (a packed row is one of these too). */
export interface SessionEventRow {
  id: number
  messageId: string | null
  event: string
  /** One-line JSON. */
  data: string
  /**
   * Set by the writer of a `delta` event whose data is exactly
   * `{"messageId":<messageId as JSON>,"text":<text>}`: the JSON string literal `<text>`
   * (packEvents then stores it without reading the data again). Not stored, not read back.
   */
  text?: string
}

/** The event of a row that packs several events. */
export const PACKED_EVENT = '$batch'
/** At most this many events per packed row. */
export const PACK_MAX = 256
const DELTA_RUN = 1

function messageIdPrefix(messageId: string): string {
  return `{"messageId":${JSON.stringify(messageId)}`
}

/** The JSON text literal of a delta's data `{"messageId":…,"text":"…"}`, or undefined for any other shape. */
function deltaText(e: SessionEventRow, head: string): string | undefined {
  if (!e.data.startsWith(head) || !e.data.endsWith('}')) return undefined
  const literal = e.data.slice(head.length, -1)
  try {
    return typeof JSON.parse(literal) === 'string' ? literal : undefined
  } catch {
    return undefined
  }
}

/** Pack events (id order) into rows of at most PACK_MAX events. */
export function packEvents(events: readonly SessionEventRow[]): SessionEventRow[] {
  const rows: SessionEventRow[] = []
  // `{"messageId":"…"` of the last message id seen (most events of a row share it).
  let prefixOf: string | null = null
  let prefix = ''
  const messagePrefix = (messageId: string) => {
    if (messageId !== prefixOf) {
      prefixOf = messageId
      prefix = messageIdPrefix(messageId)
    }
    return prefix
  }
  for (let i = 0; i < events.length; i += PACK_MAX) {
    const part = events.length <= PACK_MAX ? events : events.slice(i, i + PACK_MAX)
    const last = part[part.length - 1]!
    const lastMid = last.messageId
    const midOf = (e: SessionEventRow) => (e.messageId === null ? 'null' : e.messageId === lastMid ? '0' : JSON.stringify(e.messageId))
    const entries: string[] = []
    let runFirst: SessionEventRow | undefined
    let runTexts: string[] = []
    const endRun = () => {
      if (runFirst) entries.push(`[${runFirst.id},${DELTA_RUN},${midOf(runFirst)},[${runTexts.join(',')}]]`)
      runFirst = undefined
    }
    for (const e of part) {
      const text = e.event === 'delta' && e.messageId !== null ? (e.text ?? deltaText(e, `${messagePrefix(e.messageId)},"text":`)) : undefined
      if (text !== undefined) {
        if (runFirst && runFirst.messageId === e.messageId && runFirst.id + runTexts.length === e.id) {
          runTexts.push(text)
          continue
        }
        endRun()
        runFirst = e
        runTexts = [text]
        continue
      }
      endRun()
      const mid = midOf(e)
      if (e.messageId !== null) {
        const head = messagePrefix(e.messageId)
        if (e.data.length === head.length + 1 && e.data.startsWith(head) && e.data.endsWith('}')) {
          entries.push(`[${e.id},${JSON.stringify(e.event)},${mid},{},1]`)
          continue
        }
        if (e.data.startsWith(head) && e.data.charCodeAt(head.length) === 44 /* , */) {
          entries.push(`[${e.id},${JSON.stringify(e.event)},${mid},{${e.data.slice(head.length + 1)},1]`)
          continue
        }
      }
      entries.push(`[${e.id},${JSON.stringify(e.event)},${mid},${e.data},0]`)
    }
    endRun()
    rows.push({id: last.id, messageId: last.messageId, event: PACKED_EVENT, data: `[${entries.join(',')}]`})
  }
  return rows
}

type PackedEntry = [number, string, string | 0 | null, unknown, 0 | 1] | [number, typeof DELTA_RUN, string | 0 | null, string[]]

/** The events of stored rows (packed or not) with an id above `afterId`, in id order, once each. */
export function unpackEvents(rows: readonly SessionEventRow[], afterId: number): SessionEventRow[] {
  const out = new Map<number, SessionEventRow>()
  for (const row of rows) {
    if (row.event !== PACKED_EVENT) {
      if (row.id > afterId) out.set(row.id, row)
      continue
    }
    for (const entry of JSON.parse(row.data) as PackedEntry[]) {
      const [id, kind, mid] = entry
      const messageId = mid === 0 ? row.messageId : mid
      if (kind === DELTA_RUN) {
        const head = `${messageIdPrefix(messageId ?? '')},"text":`
        entry[3].forEach((text, n) => {
          if (id + n > afterId) out.set(id + n, {id: id + n, event: 'delta', messageId, data: `${head}${JSON.stringify(text)}}`})
        })
        continue
      }
      if (id <= afterId) continue
      let data = JSON.stringify(entry[3])
      if (entry[4] === 1 && messageId !== null) data = data === '{}' ? `${messageIdPrefix(messageId)}}` : `${messageIdPrefix(messageId)},${data.slice(1)}`
      out.set(id, {id, event: kind, messageId, data})
    }
  }
  return [...out.values()].sort((a, b) => a.id - b.id)
}

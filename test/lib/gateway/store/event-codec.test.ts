import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {PACK_MAX, PACKED_EVENT, packEvents, unpackEvents, type SessionEventRow} from '../../../../src/lib/gateway/store/event-codec.js'

const delta = (id: number, messageId: string, text: string): SessionEventRow => ({id, messageId, event: 'delta', data: JSON.stringify({messageId, text})})

describe('event codec: packed rows', () => {
  const events: SessionEventRow[] = [
    {id: 7, messageId: 'msg_a', event: 'turn', data: JSON.stringify({messageId: 'msg_a', agentId: 'x', provider: 'openai', model: 'm'})},
    delta(8, 'msg_a', 'Hel'),
    delta(9, 'msg_a', 'lo "quoted" \\ \n\u2028 é 😀'),
    // A gap in the ids (a new block) ends a run of deltas.
    delta(20, 'msg_a', '!'),
    {id: 21, messageId: 'msg_a', event: 'tool_call', data: JSON.stringify({messageId: 'msg_a', callId: 'c1', name: 'n', arguments: '{"a":1}'})},
    {id: 22, messageId: 'msg_b', event: 'delta', data: JSON.stringify({messageId: 'msg_b', text: 'other message'})},
    // Shapes the compact forms do not cover are kept as they are.
    {id: 23, messageId: 'msg_a', event: 'delta', data: JSON.stringify({text: 'no message id first', messageId: 'msg_a'})},
    {id: 24, messageId: null, event: 'note', data: '{"x":[1,2]}'},
    {id: 25, messageId: 'msg_a', event: 'done', data: JSON.stringify({messageId: 'msg_a'})},
  ]

  it('round-trips every event, byte for byte, in one row', () => {
    const rows = packEvents(events)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({id: 25, messageId: 'msg_a', event: PACKED_EVENT})
    expect(unpackEvents(rows, 0)).toEqual(events)
  })

  it('returns only events above the given id, merged with plain rows, once each, in order', () => {
    const plain = {id: 26, messageId: 'msg_c', event: 'delta', data: '{"messageId":"msg_c","text":"x"}'}
    const rows = [...packEvents(events), plain, ...packEvents(events.slice(2, 4))]
    expect(unpackEvents(rows, 9).map((e) => e.id)).toEqual([20, 21, 22, 23, 24, 25, 26])
    expect(unpackEvents(rows, 8)[0]).toEqual(events[2])
  })

  it('keeps a run of deltas small: 50 deltas take little more than their text', () => {
    const many = Array.from({length: 50}, (_, i) => delta(100 + i, 'msg_abcdefghijklmnopqrstuvwxyz', `tok${i} `))
    const [row] = packEvents(many)
    expect(row!.data.length).toBeLessThan(many.reduce((n, e) => n + e.data.length, 0) / 3)
    expect(unpackEvents([row!], 0)).toEqual(many)
  })

  it('packs deltas whose writer gave their text literal exactly like the others', () => {
    const withText = events.map((e) => (e.event === 'delta' && e.data.startsWith('{"messageId"') ? {...e, text: JSON.stringify(JSON.parse(e.data).text)} : e))
    expect(withText.filter((e) => 'text' in e)).toHaveLength(4)
    expect(packEvents(withText)).toEqual(packEvents(events))
  })

  it('splits long turns into rows of at most 256 events', () => {
    const many = Array.from({length: 600}, (_, i) => delta(i + 1, 'msg_a', `t${i}`))
    const rows = packEvents(many)
    expect(rows.map((r) => r.id)).toEqual([256, 512, 600])
    expect(unpackEvents(rows, 300)).toEqual(many.slice(300))
  })
})

/** Texts the property tests draw from: quotes, backslashes, control characters, unicode, empty. */
const awkwardText = fc.oneof(
  fc.string({unit: 'binary', maxLength: 40}),
  fc.string({unit: fc.constantFrom('"', '\\', '\n', '\r', '\t', '\u0000', '\u001f', '\u007f', '\u2028', '\u2029', 'é', '😀', '\ud800', '\udc00', '}', ',', ':', '[', ']', 'a'), maxLength: 20}),
  fc.constant(''),
)
const messageIdArb = fc.option(fc.oneof(fc.constantFrom('msg_a', 'msg_b', ''), awkwardText), {nil: null, freq: 5})

/** One event as the hub writes it: its data is JSON.stringify's output, usually led by its messageId. */
const eventArb = fc
  .record({
    messageId: messageIdArb,
    event: fc.oneof(fc.constantFrom('delta', 'delta', 'delta', 'turn', 'tool_call', 'done', 'error'), awkwardText),
    shape: fc.constantFrom('delta', 'delta-with-literal', 'prefixed', 'prefixed-empty', 'other'),
    text: awkwardText,
    extra: fc.dictionary(awkwardText, fc.jsonValue({maxDepth: 2}), {maxKeys: 3}),
    other: fc.jsonValue({maxDepth: 2}),
    gap: fc.oneof(fc.constant(1), fc.constant(1), fc.integer({min: 2, max: 300})),
  })
  .map(({messageId, event, shape, text, extra, other, gap}) => {
    const e: SessionEventRow & {gap: number} = {gap, id: 0, messageId, event, data: JSON.stringify(other) ?? 'null'}
    if (messageId === null) return e
    if (shape === 'delta' || shape === 'delta-with-literal') {
      e.data = JSON.stringify({messageId, text})
      if (shape === 'delta-with-literal' && event === 'delta') e.text = JSON.stringify(text)
    } else if (shape === 'prefixed') {
      e.data = JSON.stringify({messageId, ...extra})
    } else if (shape === 'prefixed-empty') {
      e.data = JSON.stringify({messageId})
    }
    return e
  })

/** Events in id order (ids with gaps now and then, as blocks of reserved ids leave them). */
const eventsArb = fc.array(eventArb, {maxLength: 80}).map((list) => {
  let id = 0
  return list.map(({gap, ...e}) => ({...e, id: (id += gap)}))
})

/** The event as read back: the writer's text literal is not stored. */
const stored = ({text: _text, ...e}: SessionEventRow): SessionEventRow => e

describe('event codec: properties', () => {
  it('round-trips any events whose data is JSON.stringify output, byte for byte', () => {
    fc.assert(
      fc.property(eventsArb, (events) => {
        const rows = packEvents(events)
        expect(rows).toHaveLength(Math.ceil(events.length / PACK_MAX))
        for (const row of rows) expect(row.event).toBe(PACKED_EVENT)
        expect(unpackEvents(rows, 0)).toEqual(events.map(stored))
      }),
      {numRuns: 500},
    )
  })

  it('unpacks only the events above any id, in order', () => {
    fc.assert(
      fc.property(eventsArb, fc.integer({min: -1, max: 5_000}), (events, after) => {
        expect(unpackEvents(packEvents(events), after)).toEqual(events.filter((e) => e.id > after).map(stored))
      }),
      {numRuns: 200},
    )
  })

  it('stores a packed row as one line of valid JSON', () => {
    fc.assert(
      fc.property(eventsArb, (events) => {
        for (const row of packEvents(events)) {
          expect(() => JSON.parse(row.data)).not.toThrow()
          expect(row.data).not.toMatch(/[\n\r]/)
        }
      }),
      {numRuns: 200},
    )
  })
})

describe('event codec: edge cases', () => {
  it('packs no events into no rows, and unpacks no rows into no events', () => {
    expect(packEvents([])).toEqual([])
    expect(unpackEvents([], 0)).toEqual([])
  })

  it.each([
    ['empty', ''],
    ['quotes', 'say "hi" and \'bye\''],
    ['backslashes', 'C:\\path\\to\\ and \\u0041 as text'],
    ['control characters', '\u0000\u0001\b\f\n\r\t\u001f\u007f'],
    ['unicode', 'é ü 中文 😀 \u2028\u2029'],
    ['a lone surrogate', 'x\ud800y'],
    ['what looks like JSON', '"},{"x":1,"text":"'],
  ])('round-trips a delta and a done whose text is %s', (_name, text) => {
    const events: SessionEventRow[] = [
      delta(1, 'msg_a', text),
      delta(2, 'msg_a', text),
      {id: 3, messageId: 'msg_a', event: 'error', data: JSON.stringify({messageId: 'msg_a', code: 'X', message: text})},
      {id: 4, messageId: text, event: 'delta', data: JSON.stringify({messageId: text, text})},
      {id: 5, messageId: 'msg_a', event: text, data: JSON.stringify({messageId: 'msg_a'})},
    ]
    expect(unpackEvents(packEvents(events), 0)).toEqual(events)
  })

  it('keeps a delta whose data is not the compact shape as it is', () => {
    const e = {id: 1, messageId: 'msg_a', event: 'delta', data: '{"messageId":"msg_a","text":"a","more":true}'}
    expect(JSON.parse(packEvents([e])[0]!.data)[0]).toEqual([1, 'delta', 0, {text: 'a', more: true}, 1])
    expect(unpackEvents(packEvents([e]), 0)).toEqual([e])
  })
})

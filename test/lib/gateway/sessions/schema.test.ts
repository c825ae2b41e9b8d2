import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {AGENT_ID_PATTERN} from '../../../../src/lib/contract/ids.js'
import {MAX_CONTENT_CHARS, THREAD_PATTERN, createSessionSchema, postMessageSchema, quickCreateSession, quickPostMessage} from '../../../../src/lib/gateway/sessions/schema.js'

/** The hand check accepts exactly what the schema accepts, with the same result; it never rejects for it. */
function agrees(quick: (v: unknown) => unknown, schema: {safeParse(v: unknown): {success: boolean; data?: unknown}}, values: unknown[]): void {
  for (const value of values) {
    const slow = schema.safeParse(value)
    const fast = quick(value)
    if (slow.success) expect(fast ?? slow.data, JSON.stringify(value)).toStrictEqual(slow.data)
    else expect(fast, JSON.stringify(value)).toBeUndefined()
  }
}

describe('request bodies checked by hand', () => {
  it('POST /sessions: the same result as the schema', () => {
    agrees(quickCreateSession, createSessionSchema, [
      {},
      {agentId: 'bench', thread: 'bench-1-2'},
      {agentId: 'bench', thread: 't:x.y_z-1', forceNew: true, userId: 'usr_x'},
      {forceNew: false},
      {agentId: 'Bench'},
      {agentId: ''},
      {agentId: 7},
      {thread: '-leading-dash'},
      {thread: 'x'.repeat(129)},
      {forceNew: 'yes'},
      {agentId: null},
      null,
      [],
      'text',
    ])
    expect(quickCreateSession({agentId: 'bench', thread: 't1', extra: 1})).toStrictEqual({agentId: 'bench', thread: 't1'})
  })

  it('POST …/messages: the same result as the schema', () => {
    agrees(quickPostMessage, postMessageSchema, [
      {content: 'hi'},
      {content: 'hi', dryRun: true, other: 1},
      {content: 'hi', dryRun: false},
      {content: ''},
      {content: 'x'.repeat(MAX_CONTENT_CHARS)},
      {content: 'x'.repeat(MAX_CONTENT_CHARS + 1)},
      {content: 'hi', dryRun: 'no'},
      {content: 5},
      {},
      null,
      [{content: 'hi'}],
    ])
    expect(quickPostMessage({content: 'hi'})).toStrictEqual({content: 'hi'})
  })
})

/**
 * Property tests: many random bodies, valid and not (shaped like JSON.parse output, as the routes
 * receive them). The hand check accepts exactly what the schema accepts, and gives the same value.
 */
describe('request bodies checked by hand: properties', () => {
  /** Strings near a pattern: its own characters and a few others, at lengths around its bounds. */
  const nearPattern = (pattern: RegExp, chars: string, maxLength: number) =>
    fc.oneof(
      fc.stringMatching(pattern),
      fc.string({unit: fc.constantFrom(...chars, 'A', 'Z', '-', '.', '_', ':', ' ', '\n', 'é', '😀', '/'), minLength: 0, maxLength: maxLength + 2}),
      fc.integer({min: maxLength - 1, max: maxLength + 1}).map((n) => 'a'.repeat(n)),
      fc.jsonValue({maxDepth: 1}),
    )
  const extra = fc.dictionary(fc.constantFrom('userId', 'orgId', 'extra', '__proto__', 'constructor', 'agentID'), fc.jsonValue({maxDepth: 1}), {maxKeys: 2})
  /** The value as JSON.parse gives it (no undefined members, own __proto__ keys). */
  const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? 'null')

  const check = (quick: (v: unknown) => unknown, schema: {safeParse(v: unknown): {success: boolean; data?: unknown}}, body: unknown) => {
    const slow = schema.safeParse(body)
    const fast = quick(body)
    if (slow.success) expect(fast).toStrictEqual(slow.data)
    else expect(fast).toBeUndefined()
  }

  it('POST /sessions: the same accept/reject and the same value as createSessionSchema', () => {
    const body = fc.oneof(
      fc
        .record(
          {
            agentId: nearPattern(AGENT_ID_PATTERN, 'abcz09-', 63),
            thread: nearPattern(THREAD_PATTERN, 'aZ09._:-', 128),
            forceNew: fc.oneof(fc.boolean(), fc.jsonValue({maxDepth: 1})),
          },
          {requiredKeys: []},
        )
        .chain((fields) => extra.map((more) => ({...more, ...fields}))),
      fc.jsonValue({maxDepth: 2}),
    )
    let accepted = 0
    fc.assert(
      fc.property(body.map(asJson), (value) => {
        check(quickCreateSession, createSessionSchema, value)
        if (createSessionSchema.safeParse(value).success) accepted++
      }),
      {numRuns: 3_000},
    )
    // Both sides of the line were exercised.
    expect(accepted).toBeGreaterThan(300)
    expect(accepted).toBeLessThan(2_700)
  })

  it('POST …/messages: the same accept/reject and the same value as postMessageSchema', () => {
    // Contents at the length bounds are few (each costs a copy of half a megabyte).
    const content = fc.oneof(
      {arbitrary: fc.string({unit: 'binary', maxLength: 30}), weight: 8},
      {arbitrary: fc.constantFrom('', ' ', '\u0000', '😀'), weight: 4},
      {arbitrary: fc.constantFrom('x'.repeat(MAX_CONTENT_CHARS), 'x'.repeat(MAX_CONTENT_CHARS + 1), '😀'.repeat(MAX_CONTENT_CHARS / 2), 'é'.repeat(MAX_CONTENT_CHARS / 2 + 1)), weight: 1},
      {arbitrary: fc.jsonValue({maxDepth: 1}), weight: 4},
    )
    const body = fc.oneof(
      fc
        .record({content, dryRun: fc.oneof(fc.boolean(), fc.jsonValue({maxDepth: 1}))}, {requiredKeys: []})
        .chain((fields) => extra.map((more) => ({...more, ...fields}))),
      fc.jsonValue({maxDepth: 2}),
    )
    let accepted = 0
    fc.assert(
      fc.property(body.map(asJson), (value) => {
        check(quickPostMessage, postMessageSchema, value)
        if (postMessageSchema.safeParse(value).success) accepted++
      }),
      {numRuns: 2_000},
    )
    expect(accepted).toBeGreaterThan(200)
    expect(accepted).toBeLessThan(1_800)
  })
})

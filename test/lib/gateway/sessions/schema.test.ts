import {describe, expect, it} from 'vitest'

import {MAX_CONTENT_CHARS, createSessionSchema, postMessageSchema, quickCreateSession, quickPostMessage} from '../../../../src/lib/gateway/sessions/schema.js'

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

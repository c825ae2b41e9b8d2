/**
 * Tool calls and results in a history: how each dialect writes them, how a stored history is
 * made valid (pairing, orphans) and how it is cut (whole rounds), and the schema Gemini gets.
 */
import {describe, expect, it} from 'vitest'
import {anthropicDialect} from '../../../../src/lib/gateway/providers/anthropic.js'
import {geminiDialect, SKIP_SIGNATURE} from '../../../../src/lib/gateway/providers/gemini.js'
import {normalizeConversation, trimHistory} from '../../../../src/lib/gateway/providers/history.js'
import {openaiDialect} from '../../../../src/lib/gateway/providers/openai.js'
import {geminiParameters} from '../../../../src/lib/gateway/providers/tool-wire.js'
import type {ChatMessage, DialectAdapter, Dialect, ToolSpec} from '../../../../src/lib/gateway/providers/types.js'

const TOOLS: ToolSpec[] = [
  {
    name: 'fs__read_file',
    description: 'Read a file',
    parameters: {$schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: {path: {type: 'string'}}, required: ['path'], additionalProperties: false},
  },
]

/** A turn with two parallel calls (the second with malformed arguments, its result an error), then the answer and a new question. */
const HISTORY: ChatMessage[] = [
  {role: 'user', content: 'read a.txt and b.txt'},
  {
    role: 'assistant',
    content: 'Reading both.',
    toolCalls: [
      {callId: 'c1', name: 'fs__read_file', arguments: '{"path":"a.txt"}', signature: 'SIG1'},
      {callId: 'c2', name: 'fs__read_file', arguments: '{"path": "b.txt'},
    ],
  },
  {role: 'tool', callId: 'c1', name: 'fs__read_file', content: 'alpha'},
  {role: 'tool', callId: 'c2', name: 'fs__read_file', content: 'malformed arguments', isError: true},
  {role: 'assistant', content: 'a.txt says alpha.'},
  {role: 'user', content: 'thanks'},
]

const ADAPTERS: Record<Dialect, DialectAdapter> = {openai: openaiDialect, anthropic: anthropicDialect, gemini: geminiDialect}

function body(dialect: Dialect, messages: ChatMessage[], tools: ToolSpec[] = TOOLS): any {
  const spec = ADAPTERS[dialect].buildRequest({
    target: {id: dialect, dialect, baseUrl: 'http://127.0.0.1:1', model: 'm', apiKey: 'k'},
    system: 'sys',
    messages,
    tools,
    signal: new AbortController().signal,
  })
  return JSON.parse(spec.body)
}

describe('tool history on the wire', () => {
  it('openai: assistant tool_calls (content null when empty), one tool message per result, tools as functions', () => {
    const b = body('openai', HISTORY)
    expect(b.messages).toEqual([
      {role: 'system', content: 'sys'},
      {role: 'user', content: 'read a.txt and b.txt'},
      {
        role: 'assistant',
        content: 'Reading both.',
        tool_calls: [
          {id: 'c1', type: 'function', function: {name: 'fs__read_file', arguments: '{"path":"a.txt"}'}},
          {id: 'c2', type: 'function', function: {name: 'fs__read_file', arguments: '{}'}},
        ],
      },
      {role: 'tool', tool_call_id: 'c1', content: 'alpha'},
      {role: 'tool', tool_call_id: 'c2', content: 'Error: malformed arguments'},
      {role: 'assistant', content: 'a.txt says alpha.'},
      {role: 'user', content: 'thanks'},
    ])
    expect(b.tools).toEqual([{type: 'function', function: {name: 'fs__read_file', description: 'Read a file', parameters: TOOLS[0].parameters}}])
    const [, , noText] = body('openai', [HISTORY[0], {...HISTORY[1], content: ''}, HISTORY[2], HISTORY[3]]).messages
    expect(noText.content).toBeNull()
  })

  it('anthropic: text and tool_use blocks (input parsed, {} when malformed), results grouped in ONE user message with is_error', () => {
    const b = body('anthropic', HISTORY)
    expect(b.messages).toEqual([
      {role: 'user', content: 'read a.txt and b.txt'},
      {
        role: 'assistant',
        content: [
          {type: 'text', text: 'Reading both.'},
          {type: 'tool_use', id: 'c1', name: 'fs__read_file', input: {path: 'a.txt'}},
          {type: 'tool_use', id: 'c2', name: 'fs__read_file', input: {}},
        ],
      },
      {
        role: 'user',
        content: [
          {type: 'tool_result', tool_use_id: 'c1', content: 'alpha'},
          {type: 'tool_result', tool_use_id: 'c2', content: 'malformed arguments', is_error: true},
        ],
      },
      {role: 'assistant', content: 'a.txt says alpha.'},
      {role: 'user', content: 'thanks'},
    ])
    expect(b.tools).toEqual([{name: 'fs__read_file', description: 'Read a file', input_schema: TOOLS[0].parameters}])
  })

  it('anthropic: results followed by the next user message become one user message, results first; no empty text blocks', () => {
    const b = body('anthropic', [
      {role: 'user', content: 'go'},
      {role: 'assistant', content: ' ', toolCalls: [{callId: 't1', name: 'x', arguments: '{}'}]},
      {role: 'tool', callId: 't1', name: 'x', content: ''},
      {role: 'user', content: 'and then?'},
    ])
    expect(b.messages).toEqual([
      {role: 'user', content: 'go'},
      {role: 'assistant', content: [{type: 'tool_use', id: 't1', name: 'x', input: {}}]},
      {role: 'user', content: [{type: 'tool_result', tool_use_id: 't1'}, {type: 'text', text: 'and then?'}]},
    ])
  })

  it('anthropic: tools used in the history but no longer offered are declared as unavailable; with none offered, tool_choice none', () => {
    const none = body('anthropic', HISTORY, [])
    expect(none.tools).toEqual([{name: 'fs__read_file', description: 'No longer available: do not call.', input_schema: {type: 'object', properties: {}}}])
    expect(none.tool_choice).toEqual({type: 'none'})
    const other: ToolSpec = {name: 'web__get', parameters: {type: 'object', properties: {url: {type: 'string'}}}}
    const some = body('anthropic', HISTORY, [other])
    expect(some.tools.map((t: {name: string}) => t.name)).toEqual(['web__get', 'fs__read_file'])
    expect(some.tool_choice).toBeUndefined()
    expect(body('anthropic', [{role: 'user', content: 'hi'}], [])).not.toHaveProperty('tools')
  })

  it('gemini: model functionCall parts (first with its signature), functionResponse parts in one user turn, output or error', () => {
    const b = body('gemini', HISTORY)
    expect(b.contents).toEqual([
      {role: 'user', parts: [{text: 'read a.txt and b.txt'}]},
      {
        role: 'model',
        parts: [
          {text: 'Reading both.'},
          {functionCall: {name: 'fs__read_file', args: {path: 'a.txt'}}, thoughtSignature: 'SIG1'},
          {functionCall: {name: 'fs__read_file', args: {}}},
        ],
      },
      {
        role: 'user',
        parts: [
          {functionResponse: {name: 'fs__read_file', response: {output: 'alpha'}}},
          {functionResponse: {name: 'fs__read_file', response: {error: 'malformed arguments'}}},
        ],
      },
      {role: 'model', parts: [{text: 'a.txt says alpha.'}]},
      {role: 'user', parts: [{text: 'thanks'}]},
    ])
    expect(b.tools).toEqual([
      {functionDeclarations: [{name: 'fs__read_file', description: 'Read a file', parameters: {type: 'object', properties: {path: {type: 'string'}}, required: ['path']}}]},
    ])
  })

  it("gemini: a call it did not sign (another provider's history) gets Gemini's documented stand-in on the first call only", () => {
    const b = body('gemini', [
      {role: 'user', content: 'go'},
      {role: 'assistant', content: '', toolCalls: [{callId: 'call_a', name: 'x', arguments: '{}'}, {callId: 'call_b', name: 'y', arguments: '{}'}]},
      {role: 'tool', callId: 'call_a', name: 'x', content: '1'},
      {role: 'tool', callId: 'call_b', name: 'y', content: '2'},
    ])
    expect(b.contents[1].parts).toEqual([{functionCall: {name: 'x', args: {}}, thoughtSignature: SKIP_SIGNATURE}, {functionCall: {name: 'y', args: {}}}])
  })

  it('gemini: a tool without parameters is declared without them', () => {
    const b = body('gemini', [{role: 'user', content: 'x'}], [{name: 'now', parameters: {type: 'object', properties: {}, additionalProperties: false}}])
    expect(b.tools[0].functionDeclarations).toEqual([{name: 'now'}])
  })
})

describe('geminiParameters', () => {
  it('inlines $refs, merges allOf, reads oneOf/const/type lists, and drops what Gemini refuses', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: {Edit: {type: 'object', properties: {oldText: {type: 'string'}, newText: {type: 'string'}}, required: ['oldText', 'newText'], additionalProperties: false}},
      properties: {
        path: {type: 'string', format: 'uri', minLength: 1, description: 'where'},
        edits: {type: 'array', items: {$ref: '#/$defs/Edit'}},
        mode: {const: 'fast'},
        when: {type: ['string', 'null'], format: 'date-time'},
        size: {oneOf: [{type: 'integer', exclusiveMinimum: 0}, {type: 'null'}]},
        level: {type: 'integer', enum: [1, 2, 3]},
        tags: {type: 'array'},
        both: {allOf: [{properties: {a: {type: 'string'}}, required: ['a']}, {properties: {b: {type: 'number', format: 'double'}}}], type: 'object'},
      },
      required: ['path', 'ghost'],
      additionalProperties: false,
    }
    expect(geminiParameters(schema)).toEqual({
      type: 'object',
      properties: {
        path: {type: 'string', minLength: 1, description: 'where'},
        edits: {type: 'array', items: {type: 'object', properties: {oldText: {type: 'string'}, newText: {type: 'string'}}, required: ['oldText', 'newText']}},
        mode: {type: 'string', enum: ['fast']},
        when: {type: 'string', nullable: true, format: 'date-time'},
        size: {type: 'integer', nullable: true},
        level: {type: 'integer'},
        tags: {type: 'array', items: {type: 'string'}},
        both: {type: 'object', properties: {a: {type: 'string'}, b: {type: 'number', format: 'double'}}, required: ['a']},
      },
      required: ['path'],
    })
  })

  it('cuts a recursive $ref to a plain object instead of looping', () => {
    const tree = {type: 'object', definitions: {Node: {type: 'object', properties: {children: {type: 'array', items: {$ref: '#/definitions/Node'}}}}}, properties: {root: {$ref: '#/definitions/Node'}}}
    const out = JSON.stringify(geminiParameters(tree))
    expect(out.length).toBeLessThan(5000)
    expect(out).not.toContain('$ref')
    expect(geminiParameters({type: 'object', properties: {x: {$ref: '#/nowhere'}}})).toEqual({type: 'object', properties: {x: {type: 'object'}}})
  })

  it('gives nothing for a schema without parameters, or no schema', () => {
    expect(geminiParameters({type: 'object'})).toBeUndefined()
    expect(geminiParameters({type: 'object', properties: {}})).toBeUndefined()
    expect(geminiParameters(undefined)).toBeUndefined()
  })
})

const call = (callId: string, name = 'x') => ({callId, name, arguments: '{}'})
const result = (callId: string, content = `r-${callId}`, name = 'x'): ChatMessage => ({role: 'tool', callId, name, content})

describe('normalizeConversation with tools', () => {
  it('keeps a complete history as it is', () => {
    expect(normalizeConversation(HISTORY)).toEqual(HISTORY)
  })

  it('drops a call whose result is missing (a round cut short), keeping the text; drops the message when nothing is left', () => {
    expect(
      normalizeConversation([
        {role: 'user', content: 'u1'},
        {role: 'assistant', content: 'let me see', toolCalls: [call('a'), call('b')]},
        result('a'),
        {role: 'user', content: 'u2'},
        {role: 'assistant', content: '', toolCalls: [call('c')]},
        {role: 'user', content: 'u3'},
      ]),
    ).toEqual([
      {role: 'user', content: 'u1'},
      {role: 'assistant', content: 'let me see', toolCalls: [call('a')]},
      result('a'),
      {role: 'user', content: 'u2\n\nu3'},
    ])
  })

  it('drops an orphan result (its call gone, or not right before it) and a duplicate', () => {
    expect(
      normalizeConversation([
        {role: 'user', content: 'u1'},
        result('zz'),
        {role: 'assistant', content: 'a1', toolCalls: [call('a')]},
        result('a'),
        result('a', 'again'),
        {role: 'assistant', content: 'done'},
        result('a', 'late'),
        {role: 'user', content: 'u2'},
      ]),
    ).toEqual([{role: 'user', content: 'u1'}, {role: 'assistant', content: 'a1', toolCalls: [call('a')]}, result('a'), {role: 'assistant', content: 'done'}, {role: 'user', content: 'u2'}])
  })

  it('puts the results in call order and names them after their call when the result has no name', () => {
    expect(
      normalizeConversation([
        {role: 'user', content: 'u'},
        {role: 'assistant', content: '', toolCalls: [call('a', 'one'), call('b', 'two')]},
        result('b', 'rb', ''),
        result('a', 'ra', ''),
      ]),
    ).toEqual([
      {role: 'user', content: 'u'},
      {role: 'assistant', content: '', toolCalls: [call('a', 'one'), call('b', 'two')]},
      {role: 'tool', callId: 'a', name: 'one', content: 'ra'},
      {role: 'tool', callId: 'b', name: 'two', content: 'rb'},
    ])
  })

  it('drops a leading assistant round with its results, and merges consecutive assistant messages', () => {
    expect(
      normalizeConversation([
        {role: 'assistant', content: 'hi', toolCalls: [call('a')]},
        result('a'),
        {role: 'user', content: 'u'},
        {role: 'assistant', content: 'first'},
        {role: 'assistant', content: 'second', toolCalls: [call('b')]},
        result('b'),
      ]),
    ).toEqual([{role: 'user', content: 'u'}, {role: 'assistant', content: 'first\n\nsecond', toolCalls: [call('b')]}, result('b')])
  })

  it('does not change its input', () => {
    const input: ChatMessage[] = [
      {role: 'user', content: 'u'},
      {role: 'user', content: 'v'},
      {role: 'assistant', content: 'a', toolCalls: [call('a'), call('b')]},
      result('a'),
    ]
    const copy = structuredClone(input)
    normalizeConversation(input)
    expect(input).toEqual(copy)
  })

  it('every dialect accepts what it gives: each call answered right after, each result after its call', () => {
    const messy: ChatMessage[] = [
      result('x'),
      {role: 'user', content: 'u1'},
      {role: 'assistant', content: '', toolCalls: [call('a'), call('b'), call('c')]},
      result('c'),
      result('a'),
      {role: 'user', content: 'u2'},
      {role: 'assistant', content: 't', toolCalls: [call('d')]},
    ]
    const out = normalizeConversation(messy)
    for (let i = 0; i < out.length; i++) {
      const m = out[i]
      if (m.role === 'assistant' && m.toolCalls) {
        expect(out.slice(i + 1, i + 1 + m.toolCalls.length).map((r) => (r.role === 'tool' ? r.callId : r.role))).toEqual(m.toolCalls.map((c) => c.callId))
      }
      if (m.role === 'tool') expect(['assistant', 'tool']).toContain(out[i - 1].role)
    }
    expect(out[0].role).toBe('user')
  })
})

describe('trimHistory with tools', () => {
  const big = (n: number): string => 'x'.repeat(n)
  // 400 chars = 100 tokens + 4 overhead per message
  const round = (id: string): ChatMessage[] => [{role: 'assistant', content: big(400), toolCalls: [{callId: id, name: 'x', arguments: '{}'}]}, result(id, big(400))]

  it('cuts whole rounds: a call never goes without its result, the kept history starts with a user message', () => {
    const history: ChatMessage[] = [
      {role: 'user', content: 'u1' + big(398)},
      ...round('a'),
      {role: 'assistant', content: big(400)},
      {role: 'user', content: 'u2' + big(398)},
      ...round('b'),
      {role: 'assistant', content: 'a2' + big(398)},
      {role: 'user', content: 'u3' + big(398)},
    ]
    for (let budget = 100; budget <= 1200; budget += 50) {
      const kept = trimHistory(history, budget)
      expect(kept[0]).toMatchObject({role: 'user'})
      expect(normalizeConversation(kept)).toEqual(kept)
      expect(kept.at(-1)!.content.startsWith('u3')).toBe(true)
    }
    expect(trimHistory(history, 600).map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'user'])
  })

  it('in the turn in progress, drops its oldest rounds when still over budget, never the latest one', () => {
    const history: ChatMessage[] = [{role: 'user', content: 'u1'}, ...round('a'), ...round('b'), ...round('c')]
    // each round: 2 × 104 tokens
    expect(trimHistory(history, 500).map((m) => (m.role === 'tool' ? m.callId : m.role))).toEqual(['user', 'assistant', 'b', 'assistant', 'c'])
    expect(trimHistory(history, 300).map((m) => (m.role === 'tool' ? m.callId : m.role))).toEqual(['user', 'assistant', 'c'])
    expect(trimHistory(history, 1).map((m) => (m.role === 'tool' ? m.callId : m.role))).toEqual(['user', 'assistant', 'c'])
  })

  it('counts tool arguments and results in the estimate', () => {
    const history: ChatMessage[] = [
      {role: 'user', content: 'u0'},
      {role: 'assistant', content: '', toolCalls: [{callId: 'a', name: 'x', arguments: JSON.stringify({data: big(4000)})}]},
      result('a', 'ok'),
      {role: 'assistant', content: 'fine'},
      {role: 'user', content: 'u1'},
    ]
    expect(trimHistory(history, 500)).toEqual([{role: 'user', content: 'u1'}])
  })
})

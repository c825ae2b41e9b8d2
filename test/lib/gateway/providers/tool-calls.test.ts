/**
 * Tool calls end to end against the fake provider, in every dialect: the fake's scripted tool
 * calls are decoded into complete calls, and a history with the calls and their results goes
 * back in a form the fake (which checks each service's pairing rules) accepts and reads back.
 */
import OpenAI from 'openai'
import {describe, expect, it} from 'vitest'
import {type FakeProvider, type FakeTurn} from '../../../support/fake-provider.js'
import {normalizeConversation} from '../../../../src/lib/gateway/providers/history.js'
import {type ChatMessage, type Dialect, type ProviderEvent, type ToolCall} from '../../../../src/lib/gateway/providers/index.js'
import {run, targetFor, withFakeProvider} from './helpers.js'

const DIALECTS: Dialect[] = ['openai', 'anthropic', 'gemini']

const TOOLS = [
  {name: 'fs__read_file', description: 'Read a file', parameters: {type: 'object', properties: {path: {type: 'string'}}, required: ['path'], additionalProperties: false}},
  {name: 'fs__list', description: 'List a directory', parameters: {type: 'object', properties: {dir: {type: 'string'}}}},
]

let fake: FakeProvider
withFakeProvider((f) => (fake = f))

const callsOf = (events: ProviderEvent[]): ToolCall[] =>
  events.flatMap((e) => (e.type === 'tool_call' ? [{callId: e.callId, name: e.name, arguments: e.arguments, ...(e.signature ? {signature: e.signature} : {})}] : []))

describe.each(DIALECTS)('%s: tool calls', (dialect) => {
  it('text, then two parallel calls with arguments split over chunks: complete calls in order, then done with tool_calls', async () => {
    fake.script({
      text: 'Let me look at both.',
      toolCalls: [
        {name: 'fs__read_file', arguments: {path: 'docs/a very long file name.txt'}},
        {name: 'fs__list', arguments: '{"dir": "docs"}'},
      ],
    })
    const out = await run(targetFor(fake, dialect), {tools: TOOLS})
    expect(out.error).toBeUndefined()
    expect(out.text).toBe('Let me look at both.')
    const calls = callsOf(out.events)
    expect(calls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([
      ['fs__read_file', {path: 'docs/a very long file name.txt'}],
      ['fs__list', {dir: 'docs'}],
    ])
    expect(new Set(calls.map((c) => c.callId)).size).toBe(2)
    // The text comes before the calls, and `done` last.
    expect(out.events.map((e) => e.type)).toEqual([...out.events.filter((e) => e.type === 'delta').map(() => 'delta'), 'tool_call', 'tool_call', 'done'])
    expect(out.done?.finishReason).toBe('tool_calls')
    if (dialect === 'gemini') expect(calls.map((c) => Boolean(c.signature))).toEqual([true, false])
    else expect(calls.every((c) => c.signature === undefined)).toBe(true)
    expect(fake.requests[0].turn?.tools.map((t) => t.name)).toEqual(['fs__read_file', 'fs__list'])
  })

  it('a call without text: only tool_call events and done', async () => {
    fake.script({toolCalls: [{name: 'fs__list', arguments: {}}]})
    const out = await run(targetFor(fake, dialect), {tools: TOOLS})
    expect(out.events.map((e) => e.type)).toEqual(['tool_call', 'done'])
    expect(JSON.parse((out.events[0] as {arguments: string}).arguments)).toEqual({})
  })

  it('a round trip: calls and results go back in the dialect form, in order, and the model answers from them', async () => {
    fake.script({text: 'Reading.', toolCalls: [{name: 'fs__read_file', arguments: {path: 'a.txt'}}, {name: 'fs__read_file', arguments: {path: 'b.txt'}}]}, (turn: FakeTurn) => {
      const results = turn.messages.filter((m) => m.role === 'tool')
      return `got ${results.map((r) => `${r.name}=${r.content}${r.role === 'tool' && r.isError ? '!' : ''}`).join(' ')}`
    })
    const first = await run(targetFor(fake, dialect), {messages: [{role: 'user', content: 'read both'}], tools: TOOLS})
    const calls = callsOf(first.events)
    const history: ChatMessage[] = normalizeConversation([
      {role: 'user', content: 'read both'},
      {role: 'assistant', content: first.text, toolCalls: calls},
      {role: 'tool', callId: calls[0].callId, name: calls[0].name, content: 'alpha'},
      {role: 'tool', callId: calls[1].callId, name: calls[1].name, content: 'no such file', isError: true},
    ])
    const second = await run(targetFor(fake, dialect), {messages: history, tools: TOOLS})
    expect(second.error).toBeUndefined()
    // OpenAI has no error flag: the text says it.
    expect(second.text).toBe(`got fs__read_file=alpha fs__read_file=${dialect === 'openai' ? 'Error: no such file' : 'no such file!'}`)
    expect(second.done?.finishReason).toBe('stop')
    const sent = fake.requests[1].turn!.messages
    const id = (callId: string) => (dialect === 'gemini' ? {} : {callId})
    expect(sent).toEqual([
      {role: 'user', content: 'read both'},
      {
        role: 'assistant',
        content: 'Reading.',
        toolCalls: calls.map((c) => ({
          ...(dialect === 'gemini' ? {} : {id: c.callId}),
          name: c.name,
          arguments: JSON.stringify(JSON.parse(c.arguments)),
          ...(c.signature ? {signature: c.signature} : {}),
        })),
      },
      {role: 'tool', ...id(calls[0].callId), name: 'fs__read_file', content: 'alpha'},
      dialect === 'openai'
        ? {role: 'tool', ...id(calls[1].callId), name: 'fs__read_file', content: 'Error: no such file'}
        : {role: 'tool', ...id(calls[1].callId), name: 'fs__read_file', content: 'no such file', isError: true},
    ])
    expect(fake.scriptLeft).toBe(0)
  })

  it('malformed arguments from the model come out as sent (Gemini: {}); sent back, the request is still valid', async () => {
    fake.script({toolCalls: [{name: 'fs__read_file', arguments: '{"path": "a.t'}]}, 'sorry')
    const first = await run(targetFor(fake, dialect), {tools: TOOLS})
    const [c] = callsOf(first.events)
    expect(c.arguments).toBe(dialect === 'gemini' ? '{}' : '{"path": "a.t')
    const second = await run(targetFor(fake, dialect), {
      tools: TOOLS,
      messages: [
        {role: 'user', content: 'hello there'},
        {role: 'assistant', content: '', toolCalls: [c]},
        {role: 'tool', callId: c.callId, name: c.name, content: 'malformed arguments: Unexpected end of JSON input', isError: true},
      ],
    })
    expect(second.error).toBeUndefined()
    expect(second.text).toBe('sorry')
  })

  it("the fake refuses a call without its result with the service's own 400, as the real one does", async () => {
    const out = await run(targetFor(fake, dialect), {
      messages: [
        {role: 'user', content: 'u1'},
        {role: 'assistant', content: 'x', toolCalls: [{callId: 'call_1', name: 'fs__list', arguments: '{}'}]},
        {role: 'user', content: 'u2'},
      ],
    })
    expect(out.error?.code).toBe('PROVIDER_ERROR')
    expect(out.error?.status).toBe(400)
    expect(out.error?.message).toMatch(/tool_call_id|tool_result|function response parts/)
  })
})

describe('scripting the fake', () => {
  it('answers from the queue in order, then falls back to reply; a failed request takes no answer', async () => {
    fake.reply('fallback')
    fake.script('one', {text: 'two'})
    fake.fail({status: 503, times: 1})
    const target = targetFor(fake, 'openai')
    expect((await run(target)).text).toBe('one') // retried after the 503: the same first answer
    expect(fake.requests).toHaveLength(2)
    expect((await run(target)).text).toBe('two')
    expect((await run(target)).text).toBe('fallback')
    expect(fake.scriptLeft).toBe(0)
  })

  it('an answer may be a function of the request: tools offered and messages, the same for every dialect', async () => {
    fake.reply((turn) => ({text: `${turn.dialect}: ${turn.tools.map((t) => t.name).join(',')} / ${turn.system} / ${turn.lastUser}`}))
    for (const dialect of DIALECTS) {
      const out = await run(targetFor(fake, dialect), {tools: TOOLS})
      expect(out.text).toBe(`${dialect}: fs__read_file,fs__list / You are terse. / hello there`)
    }
  })

  it('standalone control takes a script as JSON', async () => {
    const res = await fetch(`http://127.0.0.1:${fake.port}/__fake/control`, {
      method: 'POST',
      body: JSON.stringify({action: 'script', args: [{toolCalls: [{name: 'fs__list', arguments: {dir: '.'}, id: 'call_fixed'}]}]}),
    })
    expect(res.status).toBe(204)
    const out = await run(targetFor(fake, 'openai'))
    expect(callsOf(out.events)).toEqual([{callId: 'call_fixed', name: 'fs__list', arguments: '{"dir":"."}'}])
  })

  it('gemini 3 models: a call turn without its thought signature is refused; with the stand-in it is accepted', async () => {
    const target = targetFor(fake, 'gemini', {model: 'gemini-3-pro-preview'})
    const messages: ChatMessage[] = [
      {role: 'user', content: 'u'},
      {role: 'assistant', content: '', toolCalls: [{callId: 'call_from_openai', name: 'fs__list', arguments: '{}'}]},
      {role: 'tool', callId: 'call_from_openai', name: 'fs__list', content: '[]'},
    ]
    expect((await run(target, {messages})).error).toBeUndefined()
    expect(fake.requests[0].turn?.messages[1]).toMatchObject({toolCalls: [{signature: 'skip_thought_signature_validator'}]})
    const raw = await fetch(`${fake.urls.gemini}/models/gemini-3-pro-preview:streamGenerateContent?alt=sse`, {
      method: 'POST',
      body: JSON.stringify({
        contents: [
          {role: 'user', parts: [{text: 'u'}]},
          {role: 'model', parts: [{functionCall: {name: 'fs__list', args: {}}}]},
          {role: 'user', parts: [{functionResponse: {name: 'fs__list', response: {output: '[]'}}}]},
        ],
      }),
    })
    expect(raw.status).toBe(400)
    expect(((await raw.json()) as {error: {message: string}}).error.message).toMatch(/missing a thought_signature/)
  })
})

describe('the official openai client reads the fake', () => {
  it('parallel tool calls, fragments merged by index, with text before them', async () => {
    fake.script({
      text: 'Both:',
      toolCalls: [
        {name: 'fs__read_file', arguments: {path: 'a.txt'}, id: 'call_A'},
        {name: 'fs__list', arguments: {dir: 'docs'}, id: 'call_B'},
      ],
    })
    const client = new OpenAI({baseURL: fake.urls.openai, apiKey: 'sk-test', maxRetries: 0})
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{role: 'user', content: 'x'}],
      tools: TOOLS.map((t) => ({type: 'function' as const, function: t})),
      stream: true,
    })
    let text = ''
    let finish: string | null = null
    const calls: {id: string; name: string; args: string}[] = []
    for await (const chunk of stream) {
      const choice = chunk.choices[0]
      if (!choice) continue
      text += choice.delta.content ?? ''
      for (const tc of choice.delta.tool_calls ?? []) {
        calls[tc.index] ??= {id: '', name: '', args: ''}
        if (tc.id) calls[tc.index].id = tc.id
        if (tc.function?.name) calls[tc.index].name = tc.function.name
        calls[tc.index].args += tc.function?.arguments ?? ''
      }
      finish = choice.finish_reason ?? finish
    }
    expect({text, finish}).toEqual({text: 'Both:', finish: 'tool_calls'})
    expect(calls).toEqual([
      {id: 'call_A', name: 'fs__read_file', args: '{"path":"a.txt"}'},
      {id: 'call_B', name: 'fs__list', args: '{"dir":"docs"}'},
    ])
  })

  it("the history the gateway builds is one the client's own types accept, and the fake accepts it from the client", async () => {
    fake.script('ok')
    const client = new OpenAI({baseURL: fake.urls.openai, apiKey: 'sk-test', maxRetries: 0})
    const reply = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        {role: 'user', content: 'x'},
        {role: 'assistant', content: null, tool_calls: [{id: 'call_A', type: 'function', function: {name: 'fs__list', arguments: '{}'}}]},
        {role: 'tool', tool_call_id: 'call_A', content: '[]'},
      ],
      stream: true,
    })
    let text = ''
    for await (const chunk of reply) text += chunk.choices[0]?.delta.content ?? ''
    expect(text).toBe('ok')
    expect(fake.requests[0].turn?.messages.at(-1)).toEqual({role: 'tool', callId: 'call_A', name: 'fs__list', content: '[]'})
  })
})

/**
 * The exact bytes of each dialect: what the fake provider sends (framing, field order,
 * whitespace, usage, error bodies), and what the decoders make of recorded streams with
 * the harder parts of each format (tool-call fragments by index, pings, thought parts).
 */
import {readFileSync} from 'node:fs'
import {beforeEach, describe, expect, it} from 'vitest'
import {googleJson, startFakeProvider, type FakeProvider} from '../../../support/fake-provider.js'
import OpenAI from 'openai'
import {run, targetFor, withFakeProvider} from './helpers.js'

let fake: FakeProvider
withFakeProvider((f) => (fake = f))

async function post(path: string, body: unknown): Promise<{status: number; contentType: string | null; retryAfter: string | null; text: string}> {
  const res = await fetch(`http://127.0.0.1:${fake.port}${path}`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify(body),
  })
  return {status: res.status, contentType: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), text: await res.text()}
}

const fixture = (name: string): string => readFileSync(new URL(`../../../support/fixtures/${name}`, import.meta.url), 'utf8')

describe('fake provider stream bytes', () => {
  beforeEach(() => fake.reply({chunks: ['Hi', ' there'], usage: {inputTokens: 3, outputTokens: 2}}))

  it('openai: data-only frames, role chunk, content chunks, finish chunk, usage chunk, [DONE]', async () => {
    const res = await post('/v1/chat/completions', {model: 'gpt-4o-mini', messages: [{role: 'user', content: 'x'}], stream: true, stream_options: {include_usage: true}})
    expect(res.contentType).toBe('text/event-stream; charset=utf-8')
    const text = res.text
      .replace(/chatcmpl-[A-Za-z0-9]{29}/g, 'chatcmpl-ID')
      .replace(/"created":\d+/g, '"created":0')
      .replace(/fp_[0-9a-f]{10}/g, 'fp_ID')
      .replace(/"obfuscation":"[A-Za-z0-9]+"/g, '"obfuscation":"X"')
    const head = '{"id":"chatcmpl-ID","object":"chat.completion.chunk","created":0,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_ID","choices":'
    expect(text).toBe(
      `data: ${head}[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"X"}\n\n` +
        `data: ${head}[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"X"}\n\n` +
        `data: ${head}[{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"X"}\n\n` +
        `data: ${head}[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null,"obfuscation":"X"}\n\n` +
        `data: ${head}[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"obfuscation":"X"}\n\n` +
        'data: [DONE]\n\n',
    )
  })

  it('openai: without include_usage there is no usage field and no usage chunk', async () => {
    const res = await post('/v1/chat/completions', {model: 'gpt-4o-mini', messages: [{role: 'user', content: 'x'}], stream: true})
    expect(res.text).not.toContain('"usage"')
    expect(res.text.split('\n\n').filter(Boolean)).toHaveLength(5)
  })

  it('anthropic: named events with compact JSON, ping, usage in message_start and message_delta', async () => {
    const res = await post('/v1/messages', {model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{role: 'user', content: 'x'}], stream: true})
    expect(res.contentType).toBe('text/event-stream; charset=utf-8')
    const text = res.text.replace(/msg_01[A-Za-z0-9]{22}/, 'msg_ID')
    expect(text).toBe(
      'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-sonnet-4-5","id":"msg_ID","type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}} }\n\n' +
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""} }\n\n' +
        'event: ping\ndata: {"type": "ping"}\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"} }\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"} }\n\n' +
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0 }\n\n' +
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":3,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2} }\n\n' +
        'event: message_stop\ndata: {"type":"message_stop" }\n\n',
    )
  })

  it('gemini: CRLF-separated data frames in Google JSON style, finishReason on the last', async () => {
    const res = await post('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', {contents: [{role: 'user', parts: [{text: 'x'}]}]})
    expect(res.contentType).toBe('text/event-stream')
    const text = res.text.replace(/"responseId": "[A-Za-z0-9]+"/g, '"responseId": "ID"')
    const usage = (n: number): string =>
      `"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": ${n},"totalTokenCount": ${3 + n},"promptTokensDetails": [{"modality": "TEXT","tokenCount": 3}]},"modelVersion": "gemini-2.5-flash","responseId": "ID"}`
    expect(text).toBe(
      `data: {"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"},"index": 0}],${usage(1)}\r\n\r\n` +
        `data: {"candidates": [{"content": {"parts": [{"text": " there"}],"role": "model"},"finishReason": "STOP","index": 0}],${usage(2)}\r\n\r\n`,
    )
  })

  it("openai: the official SDK reads the fake's stream (content, tool calls, usage)", async () => {
    fake.reply({chunks: ['Hi', ' there'], toolCalls: [{name: 'lookup', arguments: '{"q":"x"}'}], usage: {inputTokens: 3, outputTokens: 2}})
    const client = new OpenAI({baseURL: fake.urls.openai, apiKey: 'sk-test', maxRetries: 0})
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{role: 'user', content: 'x'}],
      stream: true,
      stream_options: {include_usage: true},
    })
    let text = ''
    let args = ''
    let usage: unknown
    let finish: string | null = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      if (chunk.usage) usage = chunk.usage
    }
    expect({text, args, finish}).toEqual({text: 'Hi there', args: '{"q":"x"}', finish: 'tool_calls'})
    expect(usage).toMatchObject({prompt_tokens: 3, completion_tokens: 2, total_tokens: 5})
  })

  it("openai: the official SDK surfaces the fake's 401 as an AuthenticationError", async () => {
    fake.fail({status: 401})
    const client = new OpenAI({baseURL: fake.urls.openai, apiKey: 'sk-test-wrong-key-123456', maxRetries: 0})
    await expect(client.chat.completions.create({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'x'}]})).rejects.toMatchObject({
      status: 401,
      code: 'invalid_api_key',
    })
  })

  it('googleJson writes the space after colons and none after commas', () => {
    expect(googleJson({a: [1, {b: 'c'}], d: null})).toBe('{"a": [1,{"b": "c"}],"d": null}')
  })
})

describe('fake provider error bodies', () => {
  beforeEach(() => fake.fail({status: 429, retryAfter: 7}))

  it('openai: 4-space indented JSON with a trailing newline, retry-after header', async () => {
    const res = await post('/v1/chat/completions', {model: 'gpt-4o-mini'})
    expect(res.status).toBe(429)
    expect(res.retryAfter).toBe('7')
    expect(res.text).toMatch(/^\{\n {4}"error": \{\n {8}"message": "Rate limit reached for gpt-4o-mini/)
    expect(JSON.parse(res.text).error).toMatchObject({type: 'requests', param: null, code: 'rate_limit_exceeded'})
    expect(res.text.endsWith('}\n')).toBe(true)
  })

  it('anthropic: compact JSON with type, error and request_id', async () => {
    const res = await post('/v1/messages', {model: 'claude-sonnet-4-5'})
    expect(res.retryAfter).toBe('7')
    expect(res.text).toMatch(/^\{"type":"error","error":\{"type":"rate_limit_error","message":"[^"]+"\},"request_id":"req_011C[A-Za-z0-9]+"\}$/)
  })

  it('gemini: 2-space indented Google RPC error, retry delay as RetryInfo (no header)', async () => {
    const res = await post('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', {})
    expect(res.retryAfter).toBeNull()
    expect(res.text).toMatch(/^\{\n {2}"error": \{\n {4}"code": 429,/)
    expect(JSON.parse(res.text).error).toMatchObject({
      status: 'RESOURCE_EXHAUSTED',
      details: [{'@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s'}],
    })
  })

  it('anthropic: 529 overloaded_error body', async () => {
    fake.fail({status: 529, times: 1})
    const res = await post('/v1/messages', {model: 'claude-sonnet-4-5'})
    expect(res.status).toBe(529)
    expect(JSON.parse(res.text).error).toEqual({type: 'overloaded_error', message: 'Overloaded'})
  })
})

describe('decoding recorded streams', () => {
  it('openai: parallel tool-call fragments merged by index, usage from the usage chunk', async () => {
    fake.replay({body: fixture('openai-tool-calls.sse'), headers: {'content-type': 'text/event-stream; charset=utf-8'}})
    const out = await run(targetFor(fake, 'openai'))
    expect(out.error).toBeUndefined()
    expect(out.events).toEqual([
      {type: 'tool_call', callId: 'call_wthr', name: 'get_weather', arguments: '{"city": "Paris"}'},
      {type: 'tool_call', callId: 'call_time', name: 'get_time', arguments: '{"tz": "CET"}'},
      {type: 'done', finishReason: 'tool_calls', usage: {inputTokens: 82, outputTokens: 51}},
    ])
  })

  it('anthropic: the documented event layout with pings and a tool_use block', async () => {
    fake.replay({body: fixture('anthropic-tool-use.sse')})
    const out = await run(targetFor(fake, 'anthropic'))
    expect(out.error).toBeUndefined()
    expect(out.text).toBe('Checking the weather.')
    expect(out.events.filter((e) => e.type !== 'delta')).toEqual([
      {type: 'tool_call', callId: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', arguments: '{"location": "San Francisco, CA"}'},
      {type: 'done', finishReason: 'tool_calls', usage: {inputTokens: 472, outputTokens: 89}},
    ])
  })

  it('gemini: thought parts are not answer text; functionCall parts become tool calls with their thought signature; thinking tokens count as output', async () => {
    fake.replay({body: fixture('gemini-function-call.sse')})
    const out = await run(targetFor(fake, 'gemini'))
    expect(out.error).toBeUndefined()
    expect(out.events).toEqual([
      {type: 'delta', text: 'Let me look that up.'},
      // Gemini sends no call id: a fresh one, unique within the session (approvals name calls by id).
      {type: 'tool_call', callId: expect.stringMatching(/^call_[0-9a-f]{24}$/), name: 'get_weather', arguments: '{"city":"Paris"}', signature: 'CiQB0e2Kb2wZ'},
      {type: 'done', finishReason: 'tool_calls', usage: {inputTokens: 40, outputTokens: 33}},
    ])
  })

  it('openai-compatible: a stream that stops after the finish chunk without [DONE] still completes', async () => {
    fake.replay({
      body: 'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\ndata: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}\n\n',
    })
    const out = await run(targetFor(fake, 'openai', {id: 'ollama'}))
    expect(out.events).toEqual([
      {type: 'delta', text: 'ok'},
      {type: 'done', finishReason: 'length', usage: {inputTokens: 5, outputTokens: 1}},
    ])
  })

  it('openai-compatible: tool-call fragments without index (a new id starts a call) and a finish reason of stop still make a tool round', async () => {
    const chunk = (delta: unknown, finish: string | null = null): string => `data: ${JSON.stringify({choices: [{index: 0, delta, finish_reason: finish}]})}\n\n`
    fake.replay({
      body:
        chunk({content: 'ok '}) +
        chunk({tool_calls: [{id: 'call_1', type: 'function', function: {name: 'a', arguments: '{"x"'}}]}) +
        chunk({tool_calls: [{function: {arguments: ':1}'}}]}) +
        chunk({tool_calls: [{id: 'call_2', type: 'function', function: {name: 'b', arguments: '{}'}}]}) +
        chunk({}, 'stop') +
        'data: [DONE]\n\n',
    })
    const out = await run(targetFor(fake, 'openai', {id: 'ollama'}))
    expect(out.events).toEqual([
      {type: 'delta', text: 'ok '},
      {type: 'tool_call', callId: 'call_1', name: 'a', arguments: '{"x":1}'},
      {type: 'tool_call', callId: 'call_2', name: 'b', arguments: '{}'},
      {type: 'done', finishReason: 'tool_calls', usage: {inputTokens: 0, outputTokens: 0}},
    ])
  })

  it('openai-compatible: an error chunk mid-stream (OpenRouter style) is PROVIDER_ERROR with its code', async () => {
    fake.replay({
      body: 'data: {"choices":[{"index":0,"delta":{"content":"par"},"finish_reason":null}]}\n\ndata: {"error":{"code":502,"message":"Upstream provider returned an error"},"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}\n\n',
    })
    const out = await run(targetFor(fake, 'openai', {id: 'openrouter'}))
    expect(out.text).toBe('par')
    expect(out.error?.code).toBe('PROVIDER_ERROR')
    expect(out.error?.status).toBe(502)
    expect(out.error?.message).toContain('Upstream provider returned an error')
    expect(fake.requests).toHaveLength(1)
  })

  it('anthropic: an error event in the documented form ends the turn with PROVIDER_ERROR', async () => {
    fake.replay({
      body:
        fixture('anthropic-tool-use.sse').split('event: content_block_stop')[0] +
        'event: error\ndata: {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}\n\n',
    })
    const out = await run(targetFor(fake, 'anthropic'))
    expect(out.text).toBe('Checking the weather.')
    expect(out.error?.code).toBe('PROVIDER_ERROR')
    expect(out.error?.status).toBe(500)
    expect(fake.requests).toHaveLength(1)
  })

  it('a 200 JSON body instead of a stream is PROVIDER_ERROR with the body message', async () => {
    fake.replay({body: '{"error":{"message":"model not found"}}', headers: {'content-type': 'application/json'}})
    const out = await run(targetFor(fake, 'openai'))
    expect(out.error?.code).toBe('PROVIDER_ERROR')
    expect(out.error?.message).toContain('model not found')
  })

  it('gemini: a bad-key 400 (API_KEY_INVALID) is PROVIDER_AUTH, any other 400 is PROVIDER_ERROR', async () => {
    const keyed = await startFakeProvider({keys: ['good']})
    try {
      const out = await run(targetFor(keyed, 'gemini'))
      expect(out.error?.code).toBe('PROVIDER_AUTH')
      expect(out.error?.message).toContain('API key not valid')
    } finally {
      await keyed.close()
    }
    fake.fail({status: 400, times: 1})
    const out = await run(targetFor(fake, 'gemini'))
    expect(out.error?.code).toBe('PROVIDER_ERROR')
    expect(out.error?.status).toBe(400)
    expect(out.error?.message).toBe('gemini returned HTTP 400: Request contains an invalid argument.')
  })

  it('a stream of garbage is PROVIDER_ERROR, not a crash', async () => {
    fake.replay({body: 'data: {not json\n\n'})
    const out = await run(targetFor(fake, 'anthropic'))
    expect(out.error?.code).toBe('PROVIDER_ERROR')
  })
})

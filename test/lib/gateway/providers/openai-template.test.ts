import {describe, expect, it} from 'vitest'

import {openaiDialect} from '../../../../src/lib/gateway/providers/openai.js'
import {ChunkTemplate} from '../../../../src/lib/gateway/providers/openai-template.js'
import type {ProviderEvent} from '../../../../src/lib/gateway/providers/types.js'

const target = {id: 'openai', dialect: 'openai' as const, baseUrl: 'http://127.0.0.1:1/v1', model: 'gpt-4o-mini'}

function chunk(content: unknown, extra: Record<string, unknown> = {}, finish: string | null = null): string {
  return JSON.stringify({
    id: 'chatcmpl-abc',
    object: 'chat.completion.chunk',
    created: 1764000000,
    model: 'gpt-4o-mini',
    system_fingerprint: 'fp_0123456789',
    choices: [{index: 0, delta: {content}, logprobs: null, finish_reason: finish}],
    usage: null,
    ...extra,
  })
}

/** What the decoder makes of the chunks, one push each. */
function decodeAll(chunks: string[]): ProviderEvent[] {
  const decoder = openaiDialect.createDecoder(target)
  return chunks.flatMap((data) => decoder.push({data, event: undefined, id: undefined}))
}

/** The same chunks decoded without the shortcut: a fresh decoder per chunk never has a template. */
function decodeEachAlone(chunks: string[]): ProviderEvent[] {
  return chunks.flatMap((data) => openaiDialect.createDecoder(target).push({data, event: undefined, id: undefined}))
}

const plain = (parsed: unknown, content: string, pad: string | undefined) => {
  const c = parsed as {choices?: {delta?: {content?: unknown}; finish_reason?: unknown}[]; obfuscation?: unknown; usage?: unknown}
  return c.choices?.[0]?.delta?.content === content && !c.choices[0].finish_reason && !c.usage && (pad === undefined || c.obfuscation === pad)
}

describe('OpenAI chunk template', () => {
  it('reads the content of chunks that differ from the template only in content and obfuscation', () => {
    const t = ChunkTemplate.from(chunk('Hello', {obfuscation: 'xY3'}), plain)!
    expect(t).toBeDefined()
    expect(t.match(chunk(' world', {obfuscation: 'a'}))).toBe(' world')
    expect(t.match(chunk('', {obfuscation: 'abcdefgh'}))).toBe('')
    for (const text of ['say "hi"', 'back\\slash', 'line\nbreak', 'é ✓ 😀', '\u0000\u001f', '"content":"x"', '\\"', '}]}'])
      expect(t.match(chunk(text, {obfuscation: 'zz'}))).toBe(text)
  })

  it('refuses anything else: another id, a finish reason, usage, a null content, a tool call, bad literals', () => {
    const t = ChunkTemplate.from(chunk('Hello', {obfuscation: 'xY3'}), plain)!
    expect(t.match(chunk('x', {obfuscation: 'q', id: 'chatcmpl-other'}))).toBeUndefined()
    expect(t.match(chunk('x', {obfuscation: 'q'}, 'stop'))).toBeUndefined()
    expect(t.match(chunk('x', {obfuscation: 'q', usage: {prompt_tokens: 1}}))).toBeUndefined()
    expect(t.match(chunk(null, {obfuscation: 'q'}))).toBeUndefined()
    expect(t.match(chunk('x', {obfuscation: 3}))).toBeUndefined()
    const good = chunk('x', {obfuscation: 'q'})
    // A raw control character or a bad escape in a cut is not a JSON string: the normal path decides.
    expect(t.match(good.replace('"x"', '"a\u0001"'))).toBeUndefined()
    expect(t.match(good.replace('"x"', '"a\\q"'))).toBeUndefined()
    expect(t.match(good.replace('"x"', '"a","content":"b"'))).toBeUndefined()
    expect(t.match(good.replace('"q"', '"q" '))).toBeUndefined()
  })

  it('is not made where the cuts are not the content value', () => {
    // "content": inside another string value: the probe does not land in delta.content.
    const tricky = JSON.stringify({id: 'x\\"content\\":\\"', choices: [{index: 0, delta: {content: 'a'}, finish_reason: null}]})
    const t = ChunkTemplate.from(tricky, plain)
    if (t) expect(t.match(tricky)).toBe('a')
    // Duplicate keys (the last one wins in JSON.parse): the first "content" is not the value.
    const dup = '{"choices":[{"index":0,"delta":{"content":"a","content":"b"},"finish_reason":null}]}'
    expect(ChunkTemplate.from(dup, plain)).toBeUndefined()
    // No content key, or content that is not a string.
    expect(ChunkTemplate.from('{"choices":[]}', plain)).toBeUndefined()
    expect(ChunkTemplate.from(chunk(null), plain)).toBeUndefined()
  })

  it('the decoder gives the same events with and without the shortcut, over many mixed chunks', () => {
    let seed = 0x9e3779b9
    // xorshift32: the same sequence on every run.
    const rnd = (n: number) => {
      seed ^= seed << 13
      seed ^= seed >>> 17
      seed ^= seed << 5
      return (seed >>> 0) % n
    }
    const pieces = ['a', ' ', '"', '\\', '\n', 'é', '😀', '"content":"', '}', ',"x":1', '\u2028']
    const text = () => Array.from({length: rnd(6)}, () => pieces[rnd(pieces.length)]).join('')
    const chunks: string[] = [chunk('', {obfuscation: 'p'})]
    for (let i = 0; i < 400; i++) {
      const r = rnd(20)
      if (r === 0) chunks.push(chunk(text(), {obfuscation: text(), id: `chatcmpl-${rnd(3)}`}))
      else if (r === 1) chunks.push(chunk(null, {obfuscation: 'p'}))
      else if (r === 2) chunks.push(chunk(text(), {obfuscation: 'p', usage: {prompt_tokens: rnd(9), completion_tokens: rnd(9)}}))
      else chunks.push(chunk(text(), {obfuscation: text()}))
    }
    chunks.push(chunk('x', {obfuscation: 'p', usage: {prompt_tokens: 11, completion_tokens: 12}}))
    chunks.push(chunk('', {obfuscation: 'p'}, 'stop'), '[DONE]')
    const fast = decodeAll(chunks)
    // Every chunk but the last two is a delta (or nothing): alone, each is parsed whole.
    expect(fast.slice(0, -1)).toEqual(decodeEachAlone(chunks.slice(0, -2)))
    const lastUsage = chunks.map((c) => (c === '[DONE]' ? null : JSON.parse(c).usage)).filter(Boolean).at(-1)
    expect(fast.at(-1)).toEqual({type: 'done', finishReason: 'stop', usage: {inputTokens: lastUsage.prompt_tokens, outputTokens: lastUsage.completion_tokens}})
    const texts = fast.filter((e) => e.type === 'delta').map((e) => (e as {text: string}).text)
    const expected = chunks.slice(0, -1).map((c) => JSON.parse(c).choices[0].delta.content).filter((t): t is string => typeof t === 'string' && t !== '')
    expect(texts).toEqual(expected)
  })
})

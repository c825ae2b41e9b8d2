import {describe, expect, it} from 'vitest'
import {contextWindow, estimateTokens, historyBudget, trimHistory, DEFAULT_CONTEXT_TOKENS} from '../../../../src/lib/gateway/providers/history.js'
import {ProviderError, parseRetryAfter, redact, resolveTarget, type ChatMessage} from '../../../../src/lib/gateway/providers/index.js'

const msg = (role: 'user' | 'assistant', chars: number, tag = ''): ChatMessage => ({role, content: tag + 'x'.repeat(chars - tag.length)})

describe('trimHistory', () => {
  it('keeps everything that fits', () => {
    const history = [msg('user', 40), msg('assistant', 40), msg('user', 40)]
    expect(trimHistory(history, 1000)).toBe(history)
  })

  it('drops the oldest messages first until the estimate fits', () => {
    // each message: 400 chars = 100 tokens + 4 overhead = 104
    const history = [msg('user', 400, 'u1'), msg('assistant', 400, 'a1'), msg('user', 400, 'u2'), msg('assistant', 400, 'a2'), msg('user', 400, 'u3')]
    const kept = trimHistory(history, 320)
    expect(kept.map((m) => m.content.slice(0, 2))).toEqual(['u2', 'a2', 'u3'])
  })

  it('never starts the kept history with an assistant message', () => {
    const history = [msg('user', 400, 'u1'), msg('assistant', 400, 'a1'), msg('user', 400, 'u2')]
    // budget for two messages: dropping u1 would leave a1 first, so a1 goes too
    expect(trimHistory(history, 210).map((m) => m.content.slice(0, 2))).toEqual(['u2'])
  })

  it('always keeps the newest user message, even alone over budget', () => {
    const history = [msg('user', 400, 'u1'), msg('assistant', 400, 'a1'), msg('user', 4000, 'u2')]
    expect(trimHistory(history, 10).map((m) => m.content.slice(0, 2))).toEqual(['u2'])
  })

  it('budgets from a table of context windows, with a default', () => {
    expect(contextWindow('claude-sonnet-4-5')).toBe(200_000)
    expect(contextWindow('anthropic/claude-sonnet-4')).toBe(200_000)
    expect(contextWindow('gpt-4o-mini')).toBe(128_000)
    expect(contextWindow('gemini-2.5-flash')).toBe(1_048_576)
    expect(contextWindow('some-local-model')).toBe(DEFAULT_CONTEXT_TOKENS)
    expect(estimateTokens('abcdefgh')).toBe(2)
    expect(historyBudget('some-local-model', 'x'.repeat(4000))).toBe(DEFAULT_CONTEXT_TOKENS - 4096 - 1000)
  })
})

describe('resolveTarget', () => {
  const none = {kind: 'none'} as const

  it('uses the catalog base URL, dialect and default model', () => {
    expect(resolveTarget({id: 'anthropic', model: '', key: none}, {}, 'k')).toEqual({
      id: 'anthropic',
      dialect: 'anthropic',
      baseUrl: 'https://api.anthropic.com',
      model: 'claude-sonnet-4-5',
      apiKey: 'k',
    })
  })

  it('base_url from lobu.toml wins over <ID>_BASE_URL, which wins over the catalog', () => {
    const env = {GEMINI_BASE_URL: 'http://env.example/v1beta'}
    expect(resolveTarget({id: 'gemini', model: 'gemini-2.5-pro', key: none}, env).baseUrl).toBe('http://env.example/v1beta')
    expect(resolveTarget({id: 'gemini', model: 'gemini-2.5-pro', baseUrl: 'http://toml.example/v1beta/', key: none}, env).baseUrl).toBe(
      'http://toml.example/v1beta',
    )
    expect(resolveTarget({id: 'z-ai', model: 'glm-4.6', key: none}, {Z_AI_BASE_URL: 'http://z.example'}).baseUrl).toBe('http://z.example')
  })

  it('reads an env key source from env when no key is passed', () => {
    const target = resolveTarget({id: 'openai', model: 'gpt-4o', key: {kind: 'env', name: 'OPENAI_API_KEY'}}, {OPENAI_API_KEY: 'sk-env'})
    expect(target.apiKey).toBe('sk-env')
    expect(resolveTarget({id: 'openai', model: 'gpt-4o', key: {kind: 'env', name: 'OPENAI_API_KEY'}}, {})).not.toHaveProperty('apiKey')
  })

  it('unknown ids speak openai and need a base URL', () => {
    expect(resolveTarget({id: 'corp-llm', model: 'm', baseUrl: 'https://llm.corp/v1', key: none}, {}).dialect).toBe('openai')
    expect(() => resolveTarget({id: 'corp-llm', model: 'm', key: none}, {})).toThrow(/CORP_LLM_BASE_URL/)
    expect(() => resolveTarget({id: 'corp-llm', model: '', baseUrl: 'https://llm.corp/v1', key: none}, {})).toThrow(ProviderError)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z')

  it('reads seconds, HTTP dates and retry-after-ms', () => {
    expect(parseRetryAfter({'retry-after': '2'}, now)).toBe(2000)
    expect(parseRetryAfter({'retry-after': '0'}, now)).toBe(0)
    expect(parseRetryAfter({'retry-after': 'Wed, 01 Jan 2025 00:00:05 GMT'}, now)).toBe(5000)
    expect(parseRetryAfter({'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT'}, now)).toBe(0)
    expect(parseRetryAfter({'retry-after-ms': '250', 'retry-after': '9'}, now)).toBe(250)
  })

  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter({}, now)).toBeUndefined()
    expect(parseRetryAfter({'retry-after': 'soon'}, now)).toBeUndefined()
  })
})

describe('redact', () => {
  const key = 'sk-proj-AbCdEfGh1234567890WXYZ'

  it('removes the key, masked fragments of it and long pieces of it', () => {
    expect(redact(`bad key ${key}.`, key)).toBe('bad key [redacted].')
    expect(redact('Incorrect API key provided: sk-proj-****************WXYZ. You can find…', key)).toBe(
      'Incorrect API key provided: [redacted]. You can find…',
    )
    expect(redact('key AbCdEfGh12345 rejected', key)).toBe('key [redacted] rejected')
  })

  it('leaves ordinary text alone', () => {
    expect(redact('Rate limit reached for gpt-4o-mini on requests per min. **Note**', key)).toBe(
      'Rate limit reached for gpt-4o-mini on requests per min. **Note**',
    )
  })
})

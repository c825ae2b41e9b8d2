import {randomBytes} from 'node:crypto'

import {describe, expect, it} from 'vitest'

import {computeSystemProviders} from '../../../../src/lib/gateway/agents/system-providers.js'
import {encryptSecret} from '../../../../src/lib/gateway/crypto/index.js'
import {noModelConfigured, normalizeConversation, resolveCredentials, systemPrompt, type GrantFinder} from '../../../../src/lib/gateway/sessions/index.js'
import type {AgentRow, ProviderSpec, SecretRow, StoreTx} from '../../../../src/lib/gateway/store/types.js'

const installKey = randomBytes(32)

function storeWith(secrets: Record<string, string>): StoreTx {
  const rows = new Map<string, SecretRow>(
    Object.entries(secrets).map(([name, value]) => [
      name,
      {orgId: 'org_1', name, ciphertext: encryptSecret(installKey, value), keyedHash: '0'.repeat(64), createdAt: new Date(), updatedAt: new Date()},
    ]),
  )
  // No user grants stored: every grant lookup finds nothing.
  return {sql: {query: async () => []}, secrets: {get: async (_org: string, name: string) => rows.get(name)}} as unknown as StoreTx
}

function agent(providers: ProviderSpec[]): AgentRow {
  return {
    orgId: 'org_1',
    agentId: 'support',
    managedBy: null,
    createdAt: new Date(),
    updatedAt: new Date(),
    spec: {name: 'Support', files: {skills: []}, providers, mcp: {}, network: {allowed: [], denied: []}, tools: {preApproved: [], allowed: [], denied: []}},
  }
}

const openai: ProviderSpec = {id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'OPENAI_API_KEY'}}
const groq: ProviderSpec = {id: 'groq', model: 'llama-3.3-70b-versatile', key: {kind: 'secret', name: 'GROQ_API_KEY'}}

describe('resolveCredentials', () => {
  it('takes the first declared provider whose key resolves, decrypting the org secret', async () => {
    const r = await resolveCredentials({store: storeWith({GROQ_API_KEY: 'gsk-1'}), env: {}, installKey, systemProviders: []}, agent([openai, groq]), 'usr_1')
    expect(r.ok && r.provider).toMatchObject({source: 'declared', target: {id: 'groq', apiKey: 'gsk-1', model: 'llama-3.3-70b-versatile', baseUrl: 'https://api.groq.com/openai/v1'}})
  })

  it('a valid user grant wins; an expired one never masks a declared key', async () => {
    const store = storeWith({OPENAI_API_KEY: 'sk-declared'})
    const valid: GrantFinder = async ({providerId}) => (providerId === 'openai' ? {providerId, apiKey: 'sk-user', expiresAt: new Date(Date.now() + 60_000)} : undefined)
    const expired: GrantFinder = async ({providerId}) => ({providerId, apiKey: 'sk-old', expiresAt: new Date(Date.now() - 60_000)})
    const a = await resolveCredentials({store, env: {}, installKey, systemProviders: [], grants: valid}, agent([openai]), 'usr_1')
    expect(a.ok && a.provider.source).toBe('grant')
    expect(a.ok && a.provider.target.apiKey).toBe('sk-user')
    const b = await resolveCredentials({store, env: {}, installKey, systemProviders: [], grants: expired}, agent([openai]), 'usr_1')
    expect(b.ok && b.provider.source).toBe('declared')
    expect(b.ok && b.provider.target.apiKey).toBe('sk-declared')
  })

  it('falls back to the system providers in catalog order, with base URL overrides from the gateway env', async () => {
    const env = {GEMINI_API_KEY: 'g-1', ANTHROPIC_API_KEY: 'a-1', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/anthropic'}
    const r = await resolveCredentials({store: storeWith({}), env, installKey, systemProviders: computeSystemProviders(env)}, agent([openai]), 'usr_1')
    expect(r.ok && r.provider).toMatchObject({source: 'system', target: {id: 'anthropic', apiKey: 'a-1', baseUrl: 'http://127.0.0.1:9/anthropic'}})
  })

  it('ollama is keyless; other providers without a key are skipped and named', async () => {
    const ollama: ProviderSpec = {id: 'ollama', model: 'llama3.2', key: {kind: 'none'}}
    const r = await resolveCredentials({store: storeWith({}), env: {}, installKey, systemProviders: []}, agent([ollama]), 'usr_1')
    expect(r.ok && r.provider.target).toMatchObject({id: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1'})
    expect(r.ok && r.provider.target.apiKey).toBeUndefined()
    const keyless: ProviderSpec = {id: 'mistral', model: 'mistral-small-latest', key: {kind: 'none'}}
    const none = await resolveCredentials({store: storeWith({}), env: {}, installKey, systemProviders: []}, agent([openai, keyless]), 'usr_1')
    expect(none.ok).toBe(false)
    expect(!none.ok && none.skipped.join('\n')).toContain('OPENAI_API_KEY is not stored')
    expect(!none.ok && none.skipped.join('\n')).toContain('"mistral"')
  })

  it('a changed secret is used at once (decrypted keys are remembered by ciphertext)', async () => {
    const first = await resolveCredentials({store: storeWith({OPENAI_API_KEY: 'sk-one'}), env: {}, installKey, systemProviders: []}, agent([openai]), 'usr_1')
    const again = await resolveCredentials({store: storeWith({OPENAI_API_KEY: 'sk-one'}), env: {}, installKey, systemProviders: []}, agent([openai]), 'usr_1')
    const changed = await resolveCredentials({store: storeWith({OPENAI_API_KEY: 'sk-two'}), env: {}, installKey, systemProviders: []}, agent([openai]), 'usr_1')
    expect([first, again, changed].map((r) => r.ok && r.provider.target.apiKey)).toEqual(['sk-one', 'sk-one', 'sk-two'])
  })

  it('a secret under another install key is skipped, not an error', async () => {
    const store = storeWith({OPENAI_API_KEY: 'sk-x'})
    const r = await resolveCredentials({store, env: {}, installKey: randomBytes(32), systemProviders: []}, agent([openai]), 'usr_1')
    expect(r.ok).toBe(false)
    expect(!r.ok && r.skipped[0]).toContain('cannot be decrypted')
  })
})

describe('NO_MODEL_CONFIGURED and the prompt', () => {
  it('nothing declared: names the agent, the system env variables and a lobu.toml snippet; settingsUrl is the agent resource', () => {
    const d = noModelConfigured('support', [], 'http://127.0.0.1:8787/')
    expect(d.message).toContain('"support"')
    expect(d.message).toContain('declares no provider')
    for (const v of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'OLLAMA_HOST']) expect(d.message).toContain(v)
    expect(d.message).toContain('[[agents.support.providers]]')
    expect(d.settingsUrl).toBe('http://127.0.0.1:8787/api/v1/agents/support')
  })

  it('declared but its key variable unset: says so and names the variable, no snippet to add what is there', () => {
    const d = noModelConfigured('support', ['provider "openai": the org secret OPENAI_API_KEY is not stored'], 'http://127.0.0.1:8787/')
    expect(d.message).toContain('its providers are declared in lobu.toml but have no key')
    expect(d.message).toContain('OPENAI_API_KEY is not stored')
    expect(d.message).toContain('OPENAI_API_KEY was not set when lobu.toml was applied')
    expect(d.message).not.toContain('[[agents.support.providers]]')
    expect(d.hint).toBe("Set OPENAI_API_KEY in the environment or in the project's .env, then run `lobu apply` (or restart `lobu run`)")
    expect(d.settingsUrl).toBe('http://127.0.0.1:8787/api/v1/agents/support')
  })

  it('system prompt: IDENTITY, SOUL, USER, skills in order', () => {
    expect(systemPrompt({files: {identity: 'I', soul: 'S', user: 'U', skills: [{name: 'a', content: 'A'}, {name: 'b', content: 'B'}]}})).toBe('I\n\nS\n\nU\n\nA\n\nB')
    expect(systemPrompt({files: {skills: []}})).toBe('')
  })

  it('a conversation every dialect accepts: merged same-role runs, no leading assistant, no empty messages', () => {
    expect(
      normalizeConversation([
        {role: 'assistant', content: 'hello'},
        {role: 'user', content: 'a'},
        {role: 'user', content: 'b'},
        {role: 'assistant', content: ''},
        {role: 'assistant', content: 'c'},
      ]),
    ).toEqual([
      {role: 'user', content: 'a\n\nb'},
      {role: 'assistant', content: 'c'},
    ])
  })
})

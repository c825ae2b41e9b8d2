import {describe, expect, it} from 'vitest'

import {canonicalJson, comparePaths, diffSpecs, flatten} from '../../../../src/lib/gateway/apply/diff.js'
import type {AgentSpec} from '../../../../src/lib/gateway/store/types.js'

function spec(overrides: Partial<AgentSpec> = {}): AgentSpec {
  return {
    name: 'Support',
    files: {identity: 'You help.', skills: []},
    providers: [{id: 'openai', model: 'gpt-4o', key: {kind: 'secret', name: 'OPENAI_API_KEY'}}],
    mcp: {docs: {type: 'streamable-http', url: 'https://mcp.example.com/mcp'}},
    network: {allowed: ['api.openai.com'], denied: []},
    tools: {preApproved: [], allowed: [], denied: []},
    ...overrides,
  }
}

describe('canonicalJson', () => {
  it('ignores key order and undefined members', () => {
    expect(canonicalJson({b: 1, a: {d: undefined, c: [1, {y: 2, x: 1}]}})).toBe(canonicalJson({a: {c: [1, {x: 1, y: 2}]}, b: 1}))
    expect(canonicalJson({a: 1})).not.toBe(canonicalJson({a: 2}))
  })
})

describe('flatten', () => {
  it('indexes arrays of objects and keeps arrays of strings whole', () => {
    const leaves = flatten(spec())
    expect(leaves.get('providers[0].model')).toBe('gpt-4o')
    expect(leaves.get('providers[0].key.name')).toBe('OPENAI_API_KEY')
    expect(leaves.get('network.allowed')).toEqual(['api.openai.com'])
    expect(leaves.get('mcp.docs.url')).toBe('https://mcp.example.com/mcp')
  })
})

describe('diffSpecs', () => {
  it('finds nothing between equal specs', () => {
    expect(diffSpecs(spec(), spec())).toEqual([])
  })

  it('reports a changed model with before and after', () => {
    const after = spec({providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]})
    expect(diffSpecs(spec(), after)).toEqual([{path: 'providers[0].model', before: 'gpt-4o', after: 'gpt-4o-mini'}])
  })

  it('reports a removed provider, MCP server and network rule, each as one field', () => {
    const after = spec({providers: [], mcp: {}, network: {allowed: [], denied: []}})
    expect(diffSpecs(spec(), after)).toEqual([
      {path: 'providers[0]', before: {id: 'openai', key: {kind: 'secret', name: 'OPENAI_API_KEY'}, model: 'gpt-4o'}},
      {path: 'mcp.docs', before: {type: 'streamable-http', url: 'https://mcp.example.com/mcp'}},
      {path: 'network.allowed', before: ['api.openai.com'], after: []},
    ])
  })

  it('reports an added fallback provider and a removed optional field', () => {
    const before = spec({description: 'old'})
    const extra = {id: 'anthropic', model: 'claude-sonnet-4-5', key: {kind: 'none' as const}}
    const after = spec({providers: [...spec().providers, extra]})
    expect(diffSpecs(before, after)).toEqual([
      {path: 'description', before: 'old'},
      {path: 'providers[1]', after: {id: 'anthropic', key: {kind: 'none'}, model: 'claude-sonnet-4-5'}},
    ])
  })

  it('lists every field of a created agent with only `after`', () => {
    const fields = diffSpecs(undefined, spec())
    expect(fields[0]).toEqual({path: 'name', after: 'Support'})
    expect(fields.every((f) => !('before' in f))).toBe(true)
  })
})

describe('comparePaths', () => {
  it('orders by spec field, then indices numerically', () => {
    const paths = ['files.soul', 'providers[10].id', 'name', 'providers[2].id', 'description']
    expect(paths.sort(comparePaths)).toEqual(['name', 'description', 'providers[2].id', 'providers[10].id', 'files.soul'])
  })
})

import {describe, expect, it} from 'vitest'

import {parseApplyRequest, parsePlanRequest} from '../../../../src/lib/gateway/apply/schema.js'

const agent = {
  id: 'support',
  name: 'Support',
  files: {skills: []},
  providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'OPENAI_API_KEY'}}],
  mcp: {docs: {type: 'streamable-http', url: 'https://mcp.example.com/mcp'}},
  network: {allowed: [], denied: []},
  tools: {preApproved: ['/mcp/docs/tools/*'], allowed: [], denied: []},
}
const state = {project: 'desk-3f9a2c', agents: [agent], secrets: {OPENAI_API_KEY: 'sk-x'}}

function paths(body: unknown): string[] {
  const r = parsePlanRequest(body)
  return r.ok ? [] : r.issues.map((i) => i.path)
}

describe('parsePlanRequest', () => {
  it('accepts a valid desired state and prune', () => {
    const r = parsePlanRequest({...state, prune: true})
    expect(r).toEqual({ok: true, value: {desired: state, prune: true}})
  })

  it('names the field path of every problem', () => {
    const bad = {
      project: 'desk',
      agents: [
        {...agent, name: '', providers: [{id: 'openai', model: 42, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]},
        {...agent, id: 'Bad Id', tools: {preApproved: ['/mcp/nope/tools/x'], allowed: [], denied: []}},
      ],
      secrets: {OPENAI_API_KEY: ''},
    }
    expect(paths(bad).sort()).toEqual(
      ['agents[0].name', 'agents[0].providers[0].model', 'agents[1].id', 'agents[1].tools.preApproved[0]', 'secrets.OPENAI_API_KEY'].sort(),
    )
  })

  it('rejects unknown fields, an env key source, duplicate ids and a url-less MCP server', () => {
    expect(paths({...state, extra: 1})).toEqual(['(body)'])
    expect(paths({...state, agents: [{...agent, modle: 'x'}]})).toEqual(['agents[0]'])
    expect(paths({...state, agents: [{...agent, providers: [{id: 'openai', model: 'm', key: {kind: 'env', name: 'X'}}]}]})).toEqual([
      'agents[0].providers[0].key.kind',
    ])
    expect(paths({...state, agents: [agent, agent]})).toEqual(['agents[1].id'])
    expect(paths({...state, agents: [{...agent, mcp: {docs: {type: 'sse'}}}]})).toEqual(['agents[0].mcp.docs.url'])
  })

  it('rejects a body that is not an object', () => {
    expect(parsePlanRequest('nope').ok).toBe(false)
    expect(parsePlanRequest(null).ok).toBe(false)
  })
})

describe('parseApplyRequest', () => {
  const fp = 'a'.repeat(64)
  it('accepts a plan id or a desired state with a fingerprint', () => {
    expect(parseApplyRequest({planId: 'plan_1', fingerprint: fp}).ok).toBe(true)
    expect(parseApplyRequest({desired: state, fingerprint: fp, prune: false}).ok).toBe(true)
  })

  it('requires a fingerprint and validates the desired state', () => {
    const r = parseApplyRequest({planId: 'plan_1'})
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual(['fingerprint'])
    const s = parseApplyRequest({desired: {...state, agents: [{...agent, name: 7}]}, fingerprint: fp})
    expect(s.ok ? [] : s.issues.map((i) => i.path)).toEqual(['desired.agents[0].name'])
  })
})

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {DesiredAgent, DesiredState} from '../../../../src/lib/contract/apply.js'
import {type TestGateway, driverNames, startTestGateway} from '../../../support/gateway.js'

const KEY = 'sk-route-test-secret-0123456789'

function agent(id: string, model = 'gpt-4o-mini'): DesiredAgent {
  return {
    id,
    name: `Agent ${id}`,
    files: {identity: 'You help.', skills: []},
    providers: [{id: 'openai', model, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}],
    mcp: {},
    network: {allowed: [], denied: []},
    tools: {preApproved: [], allowed: [], denied: []},
  }
}

function desired(agents: DesiredAgent[], key = KEY): DesiredState {
  return {project: 'routes-proj', agents, secrets: {OPENAI_API_KEY: key}}
}

describe.each(driverNames())('apply routes on %s', (driver) => {
  let gw: TestGateway
  const texts: string[] = []

  beforeAll(async () => {
    gw = await startTestGateway({driver})
  })
  afterAll(async () => {
    // S7: no response of this file ever carried the key.
    for (const text of texts) expect(text).not.toContain(KEY)
    await gw?.close()
  })

  async function call(path: string, body: unknown, token?: string) {
    const res = await gw.api(path, {method: 'POST', body, token})
    texts.push(res.text)
    return res
  }

  it('plans, applies by id, and plans nothing the second time', async () => {
    const plan = await call('/api/v1/apply/plan', desired([agent('support')]))
    expect(plan.status).toBe(200)
    expect(plan.body.summary).toEqual({create: 2, update: 0, delete: 0, noop: 0})
    expect(plan.body.fingerprint).toMatch(/^[0-9a-f]{64}$/)

    const applied = await call('/api/v1/apply', {planId: plan.body.planId, fingerprint: plan.body.fingerprint})
    expect(applied.status).toBe(200)
    expect(applied.body).toMatchObject({applied: true, summary: {create: 2}})

    const list = await gw.api('/api/v1/agents')
    texts.push(list.text)
    expect(list.body.find((a: {id: string}) => a.id === 'support')).toMatchObject({managedBy: 'routes-proj'})

    const again = await call('/api/v1/apply/plan', desired([agent('support')]))
    expect(again.body.summary).toEqual({create: 0, update: 0, delete: 0, noop: 2})
  })

  it('answers 409 PLAN_STALE when the org changed between plan and apply', async () => {
    const plan = await call('/api/v1/apply/plan', desired([agent('support', 'gpt-4o')]))
    expect(plan.body.changes.find((c: {id: string}) => c.id === 'support').fields).toEqual([
      {path: 'providers[0].model', before: 'gpt-4o-mini', after: 'gpt-4o'},
    ])
    const put = await gw.api('/api/v1/agents/support', {method: 'PUT', body: {name: 'Edited by hand'}})
    expect(put.status).toBe(200)
    const stale = await call('/api/v1/apply', {planId: plan.body.planId, fingerprint: plan.body.fingerprint})
    expect(stale.status).toBe(409)
    expect(stale.body.error.code).toBe('PLAN_STALE')
    const agentNow = await gw.api('/api/v1/agents/support')
    expect(agentNow.body.name).toBe('Edited by hand')
  })

  it('rejects an invalid desired state with 400 naming the field paths (S15)', async () => {
    const bad = {project: 'routes-proj', agents: [{...agent('support'), providers: [{id: 'openai', model: 5, key: {kind: 'secret', name: 'X'}}], nmae: 'x'}], secrets: {}}
    const res = await call('/api/v1/apply/plan', bad)
    expect(res.status).toBe(400)
    expect(res.body.error.code).toBe('INVALID_REQUEST')
    expect(res.body.error.message).toContain('agents[0].providers[0].model')
    expect(res.body.error.details.map((d: {path: string}) => d.path)).toEqual(expect.arrayContaining(['agents[0].providers[0].model', 'agents[0]']))

    const noFingerprint = await call('/api/v1/apply', {planId: 'plan_x'})
    expect(noFingerprint.status).toBe(400)
    expect(noFingerprint.body.error.details).toEqual([{path: 'fingerprint', message: 'Required'}])

    const malformed = await call('/api/v1/apply/plan', '{"project": ')
    expect(malformed.status).toBe(400)
    expect(malformed.body.error.code).toBe('INVALID_JSON')
  })

  it('needs the agents:write scope', async () => {
    const minted = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'read-only', scopes: ['agents:read']}})
    expect(minted.status).toBe(201)
    const res = await call('/api/v1/apply/plan', desired([agent('support')]), minted.body.token)
    expect(res.status).toBe(403)
    expect(res.body.error.message).toContain('agents:write')
  })

  it('keeps orgs apart: the same agent id in another org, and no plan across orgs', async () => {
    const mine = await call('/api/v1/apply/plan', {...desired([agent('shared')]), project: 'other-proj'})
    expect((await call('/api/v1/apply', {planId: mine.body.planId, fingerprint: mine.body.fingerprint})).status).toBe(200)
    const other = await gw.createOrg()
    const plan = await call('/api/v1/apply/plan', {...desired([agent('shared', 'gpt-4.1')], KEY + '-b'), project: 'other-proj'}, other.token)
    expect(plan.body.changes.find((c: {id: string}) => c.id === 'shared').action).toBe('create')
    expect(plan.body.changes.find((c: {id: string}) => c.id === 'OPENAI_API_KEY').action).toBe('create')

    const foreign = await call('/api/v1/apply', {planId: plan.body.planId, fingerprint: plan.body.fingerprint})
    expect(foreign.status).toBe(404)
    expect(foreign.body.error.code).toBe('PLAN_NOT_FOUND')

    const applied = await call('/api/v1/apply', {planId: plan.body.planId, fingerprint: plan.body.fingerprint}, other.token)
    expect(applied.status).toBe(200)
    const theirs = await gw.api('/api/v1/agents/shared', {token: other.token})
    const ours = await gw.api('/api/v1/agents/shared')
    expect(theirs.body.providers[0].model).toBe('gpt-4.1')
    expect(ours.body.providers[0].model).toBe('gpt-4o-mini')
  })
})

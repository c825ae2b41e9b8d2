import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {DesiredAgent, DesiredState} from '../../../../src/lib/contract/apply.js'
import {ApplyService, type SecretCodec} from '../../../../src/lib/gateway/apply/service.js'
import {decryptSecret, encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import type {AgentSpec, SecretRepo, Store, StoreTx} from '../../../../src/lib/gateway/store/types.js'
import {storeDrivers} from '../../../support/store.js'

const installKey = randomBytes(32)
const codec: SecretCodec = {encrypt: (v) => encryptSecret(installKey, v), keyedHash: (v) => keyedHash(installKey, v)}

function agent(id: string, overrides: Partial<DesiredAgent> = {}): DesiredAgent {
  return {
    id,
    name: id.toUpperCase(),
    files: {identity: `You are ${id}.`, skills: [{name: 'faq', content: '# FAQ'}]},
    providers: [
      {id: 'openai', model: 'gpt-4o', key: {kind: 'secret', name: 'OPENAI_API_KEY'}},
      {id: 'anthropic', model: 'claude-sonnet-4-5', key: {kind: 'secret', name: 'ANTHROPIC_API_KEY'}},
    ],
    mcp: {
      docs: {type: 'streamable-http', url: 'https://mcp.example.com/mcp'},
      files: {type: 'stdio', command: 'npx', args: ['-y', 'server-filesystem']},
    },
    network: {allowed: ['api.openai.com', '.example.com'], denied: []},
    tools: {preApproved: ['/mcp/docs/tools/*'], allowed: [], denied: []},
    ...overrides,
  }
}

function state(project: string, agents: DesiredAgent[], secrets: Record<string, string> = {OPENAI_API_KEY: 'sk-one', ANTHROPIC_API_KEY: 'sk-ant'}): DesiredState {
  return {project, agents, secrets}
}

function specOf(a: DesiredAgent): AgentSpec {
  const {id: _id, ...spec} = a
  return spec
}

/** Everything apply may write in one org, rows as stored (timestamps and ciphertexts included). */
async function snapshot(store: Store, orgId: string) {
  return {agents: await store.agents.list(orgId), secrets: await store.secrets.list(orgId)}
}

let orgCounter = 0
async function newOrg(store: Store): Promise<string> {
  const org = await store.orgs.create({slug: `apply-${process.pid}-${++orgCounter}`, name: 'Apply test'})
  await store.agents.upsert({orgId: org.id, agentId: 'default', spec: specOf(agent('default', {providers: [], mcp: {}, tools: {preApproved: [], allowed: [], denied: []}})), managedBy: null})
  return org.id
}

async function planAndApply(service: ApplyService, orgId: string, desired: DesiredState, prune = false) {
  const plan = await service.plan(orgId, desired, {prune})
  const result = await service.apply(orgId, {planId: plan.planId, fingerprint: plan.fingerprint})
  return {plan, result}
}

/** A store whose transactions see a secrets repo that throws on its Nth upsert (failure injection). */
function failingStore(inner: Store, failOnUpsert: number, repo: 'secrets' | 'agents' = 'secrets'): Store {
  let calls = 0
  const wrapTx = (tx: StoreTx): StoreTx => {
    const original = tx[repo]
    const wrapped = {
      ...original,
      async upsert(input: never) {
        if (++calls === failOnUpsert) throw new Error(`injected failure on ${repo}.upsert #${calls}`)
        return (original.upsert as (i: never) => Promise<unknown>)(input)
      },
    }
    return {...tx, [repo]: wrapped as unknown as SecretRepo} as StoreTx
  }
  return {...inner, transaction: (fn) => inner.transaction((tx) => fn(wrapTx(tx)))}
}

describe.each(storeDrivers())('apply service on $name', ({open}) => {
  let store: Store
  let cleanup: () => Promise<void>
  let service: ApplyService

  beforeAll(async () => {
    ;({store, cleanup} = await open())
    service = new ApplyService({store, codec})
  })
  afterAll(() => cleanup?.())

  it('creates agents and secrets, then plans all noop and writes nothing on a second apply', async () => {
    const orgId = await newOrg(store)
    const desired = state('proj-a', [agent('support'), agent('sales')])
    const first = await planAndApply(service, orgId, desired)
    expect(first.plan.summary).toEqual({create: 4, update: 0, delete: 0, noop: 0})
    expect(first.plan.changes.find((c) => c.id === 'support')?.fields).toContainEqual({path: 'providers[0].model', after: 'gpt-4o'})
    const rows = await store.agents.list(orgId)
    expect(rows.find((r) => r.agentId === 'support')).toMatchObject({managedBy: 'proj-a', spec: specOf(agent('support'))})

    const before = await snapshot(store, orgId)
    const second = await planAndApply(service, orgId, desired)
    expect(second.plan.changes.every((c) => c.action === 'noop')).toBe(true)
    expect(second.plan.summary).toEqual({create: 0, update: 0, delete: 0, noop: 4})
    expect(second.result.fingerprint).toBe(second.plan.fingerprint)
    expect(await snapshot(store, orgId)).toEqual(before)
  })

  it('removes a provider, an MCP server and a network rule that left the file', async () => {
    const orgId = await newOrg(store)
    await planAndApply(service, orgId, state('proj-a', [agent('support')]))
    const trimmed = agent('support', {
      providers: [agent('support').providers[0]!],
      mcp: {docs: agent('support').mcp.docs!},
      network: {allowed: ['api.openai.com'], denied: []},
    })
    const {plan} = await planAndApply(service, orgId, state('proj-a', [trimmed]))
    expect(plan.changes.find((c) => c.id === 'support')).toMatchObject({
      action: 'update',
      fields: [
        {path: 'providers[1]', before: {id: 'anthropic', key: {kind: 'secret', name: 'ANTHROPIC_API_KEY'}, model: 'claude-sonnet-4-5'}},
        {path: 'mcp.files', before: {args: ['-y', 'server-filesystem'], command: 'npx', type: 'stdio'}},
        {path: 'network.allowed', before: ['api.openai.com', '.example.com'], after: ['api.openai.com']},
      ],
    })
    const row = await store.agents.get(orgId, 'support')
    expect(row?.spec.providers.map((p) => p.id)).toEqual(['openai'])
    expect(Object.keys(row!.spec.mcp)).toEqual(['docs'])
    expect(row?.spec.network.allowed).toEqual(['api.openai.com'])
  })

  it('applies a rotated key as an update of the secret only', async () => {
    const orgId = await newOrg(store)
    await planAndApply(service, orgId, state('proj-a', [agent('support')]))
    const before = await store.secrets.get(orgId, 'OPENAI_API_KEY')
    const agentBefore = await store.agents.get(orgId, 'support')

    const {plan} = await planAndApply(service, orgId, state('proj-a', [agent('support')], {OPENAI_API_KEY: 'sk-two', ANTHROPIC_API_KEY: 'sk-ant'}))
    expect(plan.summary).toEqual({create: 0, update: 1, delete: 0, noop: 2})
    expect(plan.changes.find((c) => c.id === 'OPENAI_API_KEY')).toEqual({kind: 'secret', id: 'OPENAI_API_KEY', action: 'update', fields: [{path: 'value', changed: true}]})

    const after = await store.secrets.get(orgId, 'OPENAI_API_KEY')
    expect(after!.ciphertext).not.toBe(before!.ciphertext)
    expect(after!.ciphertext).not.toContain('sk-two')
    expect(decryptSecret(installKey, after!.ciphertext)).toBe('sk-two')
    expect(after!.keyedHash).toBe(keyedHash(installKey, 'sk-two'))
    expect(await store.agents.get(orgId, 'support')).toEqual(agentBefore)
  })

  it.each([
    ['the 2nd secret write', 'secrets' as const, 2],
    ['the 2nd agent write', 'agents' as const, 2],
  ])('rolls everything back when %s fails (S14)', async (_what, repo, n) => {
    const orgId = await newOrg(store)
    await planAndApply(service, orgId, state('proj-a', [agent('support'), agent('old')]))
    const before = await snapshot(store, orgId)

    const broken = new ApplyService({store: failingStore(store, n, repo), codec})
    const desired = state('proj-a', [agent('support', {name: 'Renamed'}), agent('sales'), agent('extra')], {OPENAI_API_KEY: 'sk-new', ANTHROPIC_API_KEY: 'sk-new2', THIRD: 'x'})
    const plan = await broken.plan(orgId, desired, {prune: true})
    expect(plan.summary.create + plan.summary.update + plan.summary.delete).toBeGreaterThan(3)
    await expect(broken.apply(orgId, {planId: plan.planId, fingerprint: plan.fingerprint})).rejects.toThrow(/injected failure/)
    expect(await snapshot(store, orgId)).toEqual(before)

    // The same plan applies cleanly afterwards (nothing half-written changed the fingerprint).
    const ok = await service.apply(orgId, {desired, fingerprint: plan.fingerprint, prune: true})
    expect(ok.summary).toEqual(plan.summary)
  })

  it('prunes only agents this project applied: never default, another project\'s or hand-made ones', async () => {
    const orgId = await newOrg(store)
    await store.agents.upsert({orgId, agentId: 'handmade', spec: specOf(agent('handmade')), managedBy: null})
    await planAndApply(service, orgId, state('proj-b', [agent('theirs')]))
    await planAndApply(service, orgId, state('proj-a', [agent('keep'), agent('gone')]))

    const withoutPrune = await service.plan(orgId, state('proj-a', [agent('keep')]))
    expect(withoutPrune.changes.filter((c) => c.kind === 'agent').map((c) => [c.id, c.action])).toEqual([['keep', 'noop']])
    expect(withoutPrune.orphans).toEqual(['gone'])

    const {plan} = await planAndApply(service, orgId, state('proj-a', [agent('keep')]), true)
    expect(plan.changes.filter((c) => c.action === 'delete').map((c) => c.id)).toEqual(['gone'])
    expect((await store.agents.list(orgId)).map((a) => a.agentId).sort()).toEqual(['default', 'handmade', 'keep', 'theirs'])

    const empty = await planAndApply(service, orgId, state('proj-a', [], {}), true)
    expect(empty.plan.changes.map((c) => [c.id, c.action])).toEqual([['keep', 'delete']])
    expect((await store.agents.list(orgId)).map((a) => a.agentId).sort()).toEqual(['default', 'handmade', 'theirs'])
  })

  it('refuses to take over an agent managed by another project (409 AGENT_CONFLICT)', async () => {
    const orgId = await newOrg(store)
    await planAndApply(service, orgId, state('proj-b', [agent('support')]))
    await expect(service.plan(orgId, state('proj-a', [agent('support')]))).rejects.toMatchObject({status: 409, code: 'AGENT_CONFLICT'})
  })

  it('updates the default agent when a project declares it, and keeps it unowned', async () => {
    const orgId = await newOrg(store)
    const {plan} = await planAndApply(service, orgId, state('proj-a', [agent('default', {name: 'Mine'})]))
    expect(plan.changes.find((c) => c.id === 'default')?.action).toBe('update')
    expect(await store.agents.get(orgId, 'default')).toMatchObject({managedBy: null, spec: {name: 'Mine'}})
  })

  it('rejects a plan whose org changed before apply (409 PLAN_STALE) and writes nothing', async () => {
    const orgId = await newOrg(store)
    await planAndApply(service, orgId, state('proj-a', [agent('support')]))
    const plan = await service.plan(orgId, state('proj-a', [agent('support', {name: 'New name'})]))
    await store.agents.upsert({orgId, agentId: 'support', spec: specOf(agent('support', {description: 'edited by hand'})), managedBy: 'proj-a'})
    const before = await snapshot(store, orgId)
    await expect(service.apply(orgId, {planId: plan.planId, fingerprint: plan.fingerprint})).rejects.toMatchObject({status: 409, code: 'PLAN_STALE'})
    await expect(service.apply(orgId, {desired: state('proj-a', [agent('support')]), fingerprint: plan.fingerprint})).rejects.toMatchObject({status: 409, code: 'PLAN_STALE'})
    expect(await snapshot(store, orgId)).toEqual(before)
  })

  it('lets only one of two concurrent applies of the same state through; the other is stale', async () => {
    const orgId = await newOrg(store)
    const one = await service.plan(orgId, state('proj-a', [agent('one')]))
    const two = await service.plan(orgId, state('proj-a', [agent('two')]))
    expect(one.fingerprint).toBe(two.fingerprint)
    const results = await Promise.allSettled([
      service.apply(orgId, {planId: one.planId, fingerprint: one.fingerprint}),
      service.apply(orgId, {planId: two.planId, fingerprint: two.fingerprint}),
    ])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(rejected.reason).toMatchObject({status: 409, code: 'PLAN_STALE'})
    expect((await store.agents.list(orgId)).map((a) => a.agentId).filter((id) => id !== 'default')).toHaveLength(1)
  })

  it('applies the same agent id in two orgs independently; plans do not cross orgs', async () => {
    const orgA = await newOrg(store)
    const orgB = await newOrg(store)
    await planAndApply(service, orgA, state('proj-a', [agent('support')]))
    const planB = await service.plan(orgB, state('proj-a', [agent('support', {name: 'B'})], {OPENAI_API_KEY: 'sk-b', ANTHROPIC_API_KEY: 'sk-ant'}))
    expect(planB.changes.find((c) => c.id === 'support')?.action).toBe('create')
    expect(planB.changes.find((c) => c.id === 'OPENAI_API_KEY')?.action).toBe('create')
    await expect(service.apply(orgA, {planId: planB.planId, fingerprint: planB.fingerprint})).rejects.toMatchObject({status: 404, code: 'PLAN_NOT_FOUND'})
    await service.apply(orgB, {planId: planB.planId, fingerprint: planB.fingerprint})
    expect((await store.agents.get(orgA, 'support'))?.spec.name).toBe('SUPPORT')
    expect((await store.agents.get(orgB, 'support'))?.spec.name).toBe('B')
    expect(decryptSecret(installKey, (await store.secrets.get(orgA, 'OPENAI_API_KEY'))!.ciphertext)).toBe('sk-one')
    expect(decryptSecret(installKey, (await store.secrets.get(orgB, 'OPENAI_API_KEY'))!.ciphertext)).toBe('sk-b')
  })

  it('never puts a secret value in a plan or an apply result, and stores none in plaintext (S6, S7)', async () => {
    const orgId = await newOrg(store)
    const value = 'sk-very-secret-value-123'
    const desired = state('proj-a', [agent('support')], {OPENAI_API_KEY: value, ANTHROPIC_API_KEY: value + '-2'})
    const {plan, result} = await planAndApply(service, orgId, desired)
    const rotated = await planAndApply(service, orgId, state('proj-a', [agent('support')], {OPENAI_API_KEY: value + '-3', ANTHROPIC_API_KEY: value + '-2'}))
    for (const out of [plan, result, rotated.plan, rotated.result]) expect(JSON.stringify(out)).not.toContain(value)
    const rows = await store.sql.query<Record<string, unknown>>('SELECT * FROM secrets WHERE org_id = $1', [orgId])
    expect(rows).toHaveLength(2)
    expect(JSON.stringify(rows)).not.toContain(value)
  })

  it('warns about a secret reference that is not set anywhere', async () => {
    const orgId = await newOrg(store)
    const plan = await service.plan(orgId, state('proj-a', [agent('support', {providers: [{id: 'groq', model: 'm', key: {kind: 'secret', name: 'TEAM_KEY'}}]})], {}))
    expect(plan.warnings).toEqual(['agent "support" provider "groq": secret "TEAM_KEY" is not set on the gateway'])
  })

  it('expires plans kept by id', async () => {
    let now = 1_000
    const timed = new ApplyService({store, codec, planTtlMs: 60_000, now: () => now})
    const orgId = await newOrg(store)
    const plan = await timed.plan(orgId, state('proj-a', [agent('support')]))
    now += 60_001
    await expect(timed.apply(orgId, {planId: plan.planId, fingerprint: plan.fingerprint})).rejects.toMatchObject({code: 'PLAN_NOT_FOUND'})
  })
  it('50 applies of 50 projects in one org, planned first and applied concurrently: none is stale', async () => {
    const orgId = await newOrg(store)
    const plans = await Promise.all(
      Array.from({length: 50}, (_, i) => service.plan(orgId, state(`proj-${i}`, [agent(`agent-${i}`)], {[`KEY_${i}`]: `sk-${i}`}))),
    )
    const results = await Promise.allSettled(plans.map((p) => service.apply(orgId, {planId: p.planId, fingerprint: p.fingerprint})))
    const stale = results.filter((r) => r.status === 'rejected')
    expect(stale.map((r) => (r as PromiseRejectedResult).reason?.code)).toEqual([])
    expect((await store.agents.list(orgId)).filter((a) => a.agentId.startsWith('agent-'))).toHaveLength(50)
  })

  it("a plan goes stale when what it reads changes (its agents, its project's agents, its secrets), not when another project's do", async () => {
    const orgId = await newOrg(store)
    await planAndApply(service, orgId, state('proj-a', [agent('a-one'), agent('a-two')]))
    await planAndApply(service, orgId, state('proj-b', [agent('b-one')], {OTHER_KEY: 'sk-other'}))
    const fresh = () => service.plan(orgId, state('proj-a', [agent('a-one', {name: 'Renamed'})]), {prune: true})

    // Another project's agent and secret, and a hand-made agent: no effect on proj-a's plan.
    let plan = await fresh()
    await planAndApply(service, orgId, state('proj-b', [agent('b-one', {name: 'B changed'}), agent('b-two')], {OTHER_KEY: 'sk-other-2'}))
    await store.agents.upsert({orgId, agentId: 'by-hand', spec: specOf(agent('by-hand')), managedBy: null})
    await service.apply(orgId, {planId: plan.planId, fingerprint: plan.fingerprint})

    // An agent proj-a manages but no longer declares (the prune reads it): stale.
    await planAndApply(service, orgId, state('proj-a', [agent('a-one'), agent('a-two')]))
    plan = await fresh()
    await store.agents.upsert({orgId, agentId: 'a-two', spec: specOf(agent('a-two', {name: 'edited'})), managedBy: 'proj-a'})
    await expect(service.apply(orgId, {planId: plan.planId, fingerprint: plan.fingerprint})).rejects.toMatchObject({status: 409, code: 'PLAN_STALE'})

    // A secret its agents reference: stale.
    plan = await fresh()
    const stored = (await store.secrets.list(orgId)).find((x) => x.name === 'OPENAI_API_KEY')!
    await store.secrets.upsert({orgId, name: 'OPENAI_API_KEY', ciphertext: codec.encrypt('sk-rotated'), keyedHash: codec.keyedHash('sk-rotated')})
    expect(stored.keyedHash).not.toBe(codec.keyedHash('sk-rotated'))
    await expect(service.apply(orgId, {planId: plan.planId, fingerprint: plan.fingerprint})).rejects.toMatchObject({status: 409, code: 'PLAN_STALE'})

    // An agent with an id it creates, made by someone else meanwhile: stale.
    plan = await service.plan(orgId, state('proj-a', [agent('a-one'), agent('a-two'), agent('a-new')]))
    await store.agents.upsert({orgId, agentId: 'a-new', spec: specOf(agent('a-new')), managedBy: null})
    await expect(service.apply(orgId, {planId: plan.planId, fingerprint: plan.fingerprint})).rejects.toMatchObject({status: 409, code: 'PLAN_STALE'})
  })
})

import {afterEach, describe, expect, it} from 'vitest'

import {computeSystemProviders} from '../../../../src/lib/gateway/agents/system-providers.js'
import {SCOPES} from '../../../../src/lib/contract/scopes.js'
import {generateToken, hashToken} from '../../../../src/lib/gateway/auth/tokens.js'
import {BOOTSTRAP_META_KEY, bootstrap, ensureLocalCliToken} from '../../../../src/lib/gateway/bootstrap/index.js'
import type {Store} from '../../../../src/lib/gateway/store/types.js'
import {storeDrivers} from '../../../support/store.js'

const count = async (store: Store, table: string) => Number((await store.sql.query<{n: unknown}>(`SELECT count(*) AS n FROM ${table}`))[0].n)

describe('computeSystemProviders', () => {
  it('takes each catalog provider whose key variable is set, in catalog order', () => {
    expect(computeSystemProviders({})).toEqual([])
    expect(computeSystemProviders({OPENAI_API_KEY: 'sk-1', ANTHROPIC_API_KEY: 'sk-2', UNRELATED: 'x'})).toEqual([
      {id: 'anthropic', model: 'claude-sonnet-4-5', key: {kind: 'env', name: 'ANTHROPIC_API_KEY'}},
      {id: 'openai', model: 'gpt-4o-mini', key: {kind: 'env', name: 'OPENAI_API_KEY'}},
    ])
    expect(computeSystemProviders({GOOGLE_API_KEY: 'g'})).toEqual([{id: 'gemini', model: 'gemini-2.5-flash', key: {kind: 'env', name: 'GOOGLE_API_KEY'}}])
    expect(computeSystemProviders({OPENAI_API_KEY: ''})).toEqual([])
    expect(computeSystemProviders({OLLAMA_HOST: '127.0.0.1:11434'})).toEqual([{id: 'ollama', model: 'llama3.2', key: {kind: 'none'}}])
  })
})

describe.each(storeDrivers().map((d) => [d.name, d] as const))('bootstrap (%s)', (_name, driver) => {
  const cleanups: Array<() => Promise<void>> = []
  const fresh = async () => {
    const {store, cleanup} = await driver.open()
    cleanups.push(cleanup)
    return store
  }
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c()
  })

  it('is idempotent: twice gives one admin, one org, one membership, one default agent', async () => {
    const store = await fresh()
    const first = await bootstrap(store, {systemProviders: []})
    const second = await bootstrap(store, {systemProviders: []})
    expect(second.admin.id).toBe(first.admin.id)
    expect(second.org.id).toBe(first.org.id)
    expect(first.admin.isAdmin).toBe(true)
    expect(first.org.slug).toBe('local')
    expect(await count(store, 'users')).toBe(1)
    expect(await count(store, 'orgs')).toBe(1)
    expect(await count(store, 'memberships')).toBe(1)
    expect(await count(store, 'agents')).toBe(1)
    expect(await store.memberships.get(first.org.id, first.admin.id)).toMatchObject({role: 'owner'})
    expect((await store.agents.get(first.org.id, 'default'))?.managedBy).toBeNull()
    expect(await store.meta.get(BOOTSTRAP_META_KEY)).toBe('1')
  })

  it('a boot with nothing to change opens no transaction; any difference goes through one', async () => {
    const store = await fresh()
    const openai = computeSystemProviders({OPENAI_API_KEY: 'sk-1'})
    const first = await bootstrap(store, {systemProviders: openai})
    let transactions = 0
    const counting: Store = {...store, transaction: (fn) => (transactions++, store.transaction(fn))}
    const steady = await bootstrap(counting, {systemProviders: computeSystemProviders({OPENAI_API_KEY: 'other-value'})})
    expect(transactions).toBe(0)
    expect(steady.admin).toEqual(first.admin)
    expect(steady.org).toEqual(first.org)
    // another provider set, a missing membership, an old bootstrap version: each is repaired
    await bootstrap(counting, {systemProviders: computeSystemProviders({ANTHROPIC_API_KEY: 'a'})})
    expect(transactions).toBe(1)
    expect((await store.agents.get(first.org.id, 'default'))?.spec.providers.map((p) => p.id)).toEqual(['anthropic'])
    await store.sql.query('DELETE FROM memberships')
    await bootstrap(counting, {systemProviders: computeSystemProviders({ANTHROPIC_API_KEY: 'a'})})
    expect(transactions).toBe(2)
    expect(await store.memberships.get(first.org.id, first.admin.id)).toMatchObject({role: 'owner'})
    await store.meta.set(BOOTSTRAP_META_KEY, '0')
    await bootstrap(counting, {systemProviders: computeSystemProviders({ANTHROPIC_API_KEY: 'a'})})
    expect(transactions).toBe(3)
    expect(await store.meta.get(BOOTSTRAP_META_KEY)).toBe('1')
    // an org without its default agent
    await store.orgs.create({slug: 'acme', name: 'Acme'})
    await bootstrap(counting, {systemProviders: computeSystemProviders({ANTHROPIC_API_KEY: 'a'})})
    expect(transactions).toBe(4)
    expect(await count(store, 'agents')).toBe(2)
  })

  it('completes a partial state without duplicating it', async () => {
    const store = await fresh()
    const org = await store.orgs.create({slug: 'local', name: 'Local'})
    const other = await store.orgs.create({slug: 'acme', name: 'Acme'})
    const result = await bootstrap(store, {systemProviders: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'env', name: 'OPENAI_API_KEY'}}]})
    expect(result.org.id).toBe(org.id)
    expect(await count(store, 'orgs')).toBe(2)
    expect(await count(store, 'users')).toBe(1)
    expect(await store.memberships.get(org.id, result.admin.id)).toMatchObject({role: 'owner'})
    for (const id of [org.id, other.id]) {
      expect((await store.agents.get(id, 'default'))?.spec.providers).toEqual([{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'env', name: 'OPENAI_API_KEY'}}])
    }

    // Admin and org exist, membership and default agent gone: both come back, nothing doubles.
    await store.agents.delete(org.id, 'default')
    await store.sql.query('DELETE FROM memberships')
    await bootstrap(store, {systemProviders: []})
    expect(await count(store, 'users')).toBe(1)
    expect(await count(store, 'memberships')).toBe(1)
    expect(await store.agents.get(org.id, 'default')).toBeDefined()
  })

  it('recomputes system providers on each boot and keeps other edits of the default agent', async () => {
    const store = await fresh()
    const {org} = await bootstrap(store, {systemProviders: computeSystemProviders({OPENAI_API_KEY: 'a', ANTHROPIC_API_KEY: 'b'})})
    const providers = async () => (await store.agents.get(org.id, 'default'))!.spec.providers.map((p) => p.id)
    expect(await providers()).toEqual(['anthropic', 'openai'])
    const row = (await store.agents.get(org.id, 'default'))!
    await store.agents.upsert({orgId: org.id, agentId: 'default', spec: {...row.spec, description: 'edited by hand'}, managedBy: null})

    await bootstrap(store, {systemProviders: computeSystemProviders({GEMINI_API_KEY: 'c'})})
    expect(await providers()).toEqual(['gemini'])
    expect((await store.agents.get(org.id, 'default'))!.spec.description).toBe('edited by hand')
    await bootstrap(store, {systemProviders: computeSystemProviders({})})
    expect(await providers()).toEqual([])
  })

  it('ensureLocalCliToken keeps a valid candidate and replaces anything else', async () => {
    const store = await fresh()
    const {admin, org} = await bootstrap(store, {systemProviders: []})
    const minted = await ensureLocalCliToken(store)
    expect(minted).toMatchObject({org: 'local', userId: admin.id, scopes: [...SCOPES], expiresAt: null, created: true})
    expect(minted.token).toMatch(/^lobu_pat_[0-9A-Za-z]{43}$/)
    const row = await store.tokens.findByHash(hashToken(minted.token))
    expect(row).toMatchObject({id: minted.tokenId, name: 'lobu run (local)', orgId: org.id, userId: admin.id})

    const kept = await ensureLocalCliToken(store, minted.token)
    expect(kept).toMatchObject({token: minted.token, tokenId: minted.tokenId, created: false})

    for (const bad of [undefined, '', 'garbage', generateToken()]) {
      const again = await ensureLocalCliToken(store, bad)
      expect(again.created).toBe(true)
      expect(again.token).not.toBe(bad)
    }

    // Another org's token, an expired one and a revoked one are not kept.
    const acme = await store.orgs.create({slug: 'acme-x', name: 'Acme'})
    await store.memberships.upsert({orgId: acme.id, userId: admin.id, role: 'owner'})
    const foreign = generateToken()
    await store.tokens.create({orgId: acme.id, userId: admin.id, name: 'x', tokenHash: hashToken(foreign), scopes: [...SCOPES], expiresAt: null})
    const expired = generateToken()
    await store.tokens.create({orgId: org.id, userId: admin.id, name: 'x', tokenHash: hashToken(expired), scopes: [...SCOPES], expiresAt: new Date(Date.now() - 1000)})
    expect((await ensureLocalCliToken(store, foreign)).created).toBe(true)
    expect((await ensureLocalCliToken(store, expired)).created).toBe(true)
    await store.tokens.revoke(org.id, admin.id, minted.tokenId)
    const replaced = await ensureLocalCliToken(store, minted.token)
    expect(replaced.created).toBe(true)
    expect(replaced.tokenId).not.toBe(minted.tokenId)
  })
})

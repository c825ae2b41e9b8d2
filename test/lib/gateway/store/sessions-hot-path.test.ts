import {createHash, randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {oauthRepo} from '../../../../src/lib/gateway/store/repos/oauth.js'
import {LOAD_TURNS, sessionRepo, type SessionEventRow} from '../../../../src/lib/gateway/store/repos/sessions.js'
import type {AgentSpec, Store} from '../../../../src/lib/gateway/store/types.js'
import {storeDrivers} from '../../../support/store.js'

const suffix = () => randomBytes(4).toString('hex')
const key = () => `ses_${randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 32)}`

function spec(identity: string, secret = 'OPENAI_API_KEY'): AgentSpec {
  return {
    name: 'A',
    files: {identity, skills: []},
    providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: secret}}],
    mcp: {},
    network: {allowed: [], denied: []},
    tools: {preApproved: [], allowed: [], denied: []},
  }
}

const delta = (id: number, messageId: string, text: string): SessionEventRow => ({id, messageId, event: 'delta', data: JSON.stringify({messageId, text})})

describe.each(storeDrivers())('session hot-path statements on $name', ({name, open}) => {
  let store: Store
  let cleanup: () => Promise<void>
  let orgA: string
  let orgB: string
  let user: string
  let other: string
  beforeAll(async () => {
    ;({store, cleanup} = await open())
    orgA = (await store.orgs.create({slug: `a-${suffix()}`, name: 'A'})).id
    orgB = (await store.orgs.create({slug: `b-${suffix()}`, name: 'B'})).id
    user = (await store.users.create({email: `u-${suffix()}@example.test`, name: 'U'})).id
    other = (await store.users.create({email: `o-${suffix()}@example.test`, name: 'O'})).id
    await store.agents.upsert({orgId: orgA, agentId: 'support', spec: spec('A support'), managedBy: null})
    await store.agents.upsert({orgId: orgB, agentId: 'support', spec: spec('B support'), managedBy: null})
    await store.secrets.upsert({orgId: orgA, name: 'OPENAI_API_KEY', ciphertext: 'v1:aaaa', keyedHash: createHash('sha256').update('a').digest('hex')})
    await store.secrets.upsert({orgId: orgA, name: 'UNRELATED', ciphertext: 'v1:bbbb', keyedHash: createHash('sha256').update('b').digest('hex')})
  })
  afterAll(async () => {
    await cleanup?.()
  })

  // Both ways of running the statements: prepared (PGlite's hot path) and with bind parameters.
  const modes = name === 'pglite' ? [true, false] : [false]

  describe.each(modes)('prepared: %s', (prepare) => {
    const repo = () => sessionRepo(store.sql, {prepare})

    it('inserts sessions only for agents of their own org, reserving event ids, once per thread', async () => {
      const [k1, k2, k3, k4] = [key(), key(), key(), key()]
      const thread = `t-${suffix()}`
      const odd = `odd value: with space ${suffix()}`
      const rows = await repo().insertIfAgent([
        {key: k1, orgId: orgA, userId: user, agentId: 'support', thread, reserve: 64},
        {key: k2, orgId: orgA, userId: user, agentId: 'nope', thread},
        {key: k3, orgId: orgB, userId: user, agentId: 'support', thread: odd},
      ])
      expect([...rows.keys()].sort()).toEqual([k1, k3].sort())
      expect(rows.get(k1)).toMatchObject({orgId: orgA, userId: user, agentId: 'support', thread, lastEventId: 64})
      expect(rows.get(k3)?.thread).toBe(odd)
      // The same thread again: not inserted (it is resumed by the caller).
      expect((await repo().insertIfAgent([{key: k4, orgId: orgA, userId: user, agentId: 'support', thread}])).size).toBe(0)
    })

    it('loads a turn only for its own org AND user, with agent, history, named secrets and grant targets', async () => {
      await store.agents.upsert({orgId: orgA, agentId: 'support', spec: spec('A support'), managedBy: null})
      const k = key()
      await repo().insertIfAgent([{key: k, orgId: orgA, userId: user, agentId: 'support', thread: `t-${suffix()}`}])
      await repo().commitTurns([
        {key: k, messages: [{messageId: 'm1', role: 'user', content: "it's \"quoted\" \\ é"}, {messageId: 'm1', role: 'assistant', content: 'answer'}], events: []},
      ])
      const loaded = await repo().loadTurns([
        {key: k, orgId: orgA, userId: user},
        {key: key(), orgId: orgA, userId: user},
      ])
      expect(loaded.map((r) => r?.session.key)).toEqual([k, undefined])
      const row = loaded[0]!
      expect(row.session).toMatchObject({key: k, orgId: orgA, userId: user, agentId: 'support'})
      expect(row.agent?.spec?.files.identity).toBe('A support')
      expect(row.history).toEqual([
        {role: 'user', content: "it's \"quoted\" \\ é", tool: null},
        {role: 'assistant', content: 'answer', tool: null},
      ])
      // Only the secrets the agent's providers name.
      expect([...row.secrets]).toEqual([['OPENAI_API_KEY', 'v1:aaaa']])
      expect(row.grantTargets).toEqual([])
      // The user's own key for a provider of this agent: its target comes with the turn.
      await oauthRepo(store.sql).upsertGrant({orgId: orgA, userId: user, agentId: 'support', kind: 'provider', target: 'openai', accessToken: 'v1:cccc', refreshToken: null, scopes: [], expiresAt: null})
      expect((await repo().loadTurns([{key: k, orgId: orgA, userId: user}]))[0]?.grantTargets).toEqual(['openai'])
      await store.sql.query("DELETE FROM oauth_grants WHERE org_id = $1 AND user_id = $2", [orgA, user])
      // Another org's or another user's token: nothing (S4).
      expect(await repo().loadTurns([{key: k, orgId: orgB, userId: user}])).toEqual([undefined])
      expect(await repo().loadTurns([{key: k, orgId: orgA, userId: other}])).toEqual([undefined])
      // The same key asked for by its owner and by others in one statement: only the owner's request gets it.
      const mixed = await repo().loadTurns([
        {key: k, orgId: orgB, userId: user},
        {key: k, orgId: orgA, userId: user},
        {key: k, orgId: orgA, userId: other},
      ])
      expect(mixed.map((r) => r?.session.key)).toEqual([undefined, k, undefined])
    })

    it('sends the agent spec only when its version changed', async () => {
      const k = key()
      await repo().insertIfAgent([{key: k, orgId: orgA, userId: user, agentId: 'support', thread: `t-${suffix()}`}])
      const first = (await repo().loadTurns([{key: k, orgId: orgA, userId: user}]))[0]!
      const same = (await repo().loadTurns([{key: k, orgId: orgA, userId: user, agentVersion: first.agent!.version}]))[0]!
      expect(same.agent?.version).toBe(first.agent!.version)
      expect(same.agent?.spec).toBeUndefined()
      await store.agents.upsert({orgId: orgA, agentId: 'support', spec: spec(`changed ${suffix()}`), managedBy: null})
      const changed = (await repo().loadTurns([{key: k, orgId: orgA, userId: user, agentVersion: first.agent!.version}]))[0]!
      expect(changed.agent?.version).not.toBe(first.agent!.version)
      expect(changed.agent?.spec?.files.identity).toMatch(/^changed /)
    })

    it('commits turns atomically: messages in order, packed events, next ids; a deleted session is skipped', async () => {
      const [k1, k2] = [key(), key()]
      await repo().insertIfAgent([
        {key: k1, orgId: orgA, userId: user, agentId: 'support', thread: `t-${suffix()}`, reserve: 10},
        {key: k2, orgId: orgA, userId: user, agentId: 'support', thread: `t-${suffix()}`, reserve: 10},
      ])
      await repo().delete({orgId: orgA, userId: user}, k2)
      const events = [delta(1, 'm1', 'a'), delta(2, 'm1', 'b'), {id: 3, messageId: 'm1', event: 'done', data: '{"messageId":"m1"}'}]
      const live = await repo().commitTurns([
        {key: k1, messages: [{messageId: 'm1', role: 'user', content: 'q'}, {messageId: 'm1', role: 'assistant', content: 'ab', status: 'partial'}], events, reserveNext: 64},
        {key: k2, messages: [{messageId: 'm2', role: 'user', content: 'gone'}], events: [delta(1, 'm2', 'x')], reserveNext: 64},
      ])
      expect([...live]).toEqual([[k1, 74]])
      expect((await repo().messages(k1)).map((m) => [m.role, m.content, m.status])).toEqual([
        ['user', 'q', 'complete'],
        ['assistant', 'ab', 'partial'],
      ])
      expect(await repo().eventLogAfter(k1, 1)).toEqual(events.slice(1))
      expect(await repo().lastEventId(k1)).toBe(3)
      const stored = await store.sql.query<{n: number}>('SELECT count(*)::int AS n FROM session_messages WHERE session_key = $1', [k2])
      expect(stored[0]!.n).toBe(0)
    })

    it('prunes expired events in the commit', async () => {
      const k = key()
      await repo().insertIfAgent([{key: k, orgId: orgA, userId: user, agentId: 'support', thread: `t-${suffix()}`}])
      await repo().appendEventBatches([{key: k, events: [delta(1, 'm0', 'old')]}])
      await store.sql.query("UPDATE session_events SET created_at = now() - interval '2 hours' WHERE session_key = $1", [k])
      await repo().commitTurns([{key: k, messages: [{messageId: 'm1', role: 'user', content: 'q'}], events: [delta(2, 'm1', 'new')], pruneBefore: new Date(Date.now() - 3_600_000)}])
      expect((await repo().eventLogAfter(k, 0)).map((e) => e.id)).toEqual([2])
    })

    it('reserves ids for several sessions in one statement', async () => {
      const [k1, k2] = [key(), key()]
      await repo().insertIfAgent([
        {key: k1, orgId: orgA, userId: user, agentId: 'support', thread: `t-${suffix()}`, reserve: 5},
        {key: k2, orgId: orgA, userId: user, agentId: 'support', thread: `t-${suffix()}`},
      ])
      const last = await repo().reserveEventIdsMany([
        {key: k1, count: 64},
        {key: k2, count: 64},
        {key: key(), count: 64},
      ])
      expect([...last].sort()).toEqual([
        [k1, 69],
        [k2, 64],
      ].sort())
    })
  })
})

// PGlite never analyses its tables (no autovacuum): the plan must not depend on statistics.
describe('session hot-path plans on PGlite', () => {
  let store: Store
  let cleanup: () => Promise<void>
  beforeAll(async () => {
    ;({store, cleanup} = await storeDrivers().find((d) => d.name === 'pglite')!.open())
  })
  afterAll(async () => {
    await cleanup?.()
  })

  it("a turn's load finds each session by its key, however many sessions its user has", async () => {
    const orgId = (await store.orgs.create({slug: `p-${suffix()}`, name: 'P'})).id
    const many = (await store.users.create({email: `m-${suffix()}@example.test`, name: 'M'})).id
    await store.agents.upsert({orgId, agentId: 'support', spec: spec('P support'), managedBy: null})
    for (let i = 0; i < 4; i++) {
      await sessionRepo(store.sql).insertIfAgent(
        Array.from({length: 500}, () => ({key: key(), orgId, userId: many, agentId: 'support', thread: `t-${suffix()}-${suffix()}`})),
      )
    }
    const rows = await store.sql.query<{'QUERY PLAN': string}>(`EXPLAIN (GENERIC_PLAN) ${LOAD_TURNS}`, [null, null, null, null])
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n')
    expect(plan).toContain('sessions_pkey')
    expect(plan).not.toContain('sessions_thread_key')
  })
})

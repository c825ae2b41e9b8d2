import {createHash, randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {StoreMisuseError, isUniqueViolation} from '../../../../src/lib/gateway/store/index.js'
import type {AgentSpec, Store} from '../../../../src/lib/gateway/store/types.js'
import {storeDrivers} from '../../../support/store.js'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const suffix = () => randomBytes(4).toString('hex')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function spec(name: string, extra: Partial<AgentSpec> = {}): AgentSpec {
  return {
    name,
    files: {identity: `I am ${name}`, skills: []},
    providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'OPENAI_API_KEY'}}],
    mcp: {},
    network: {allowed: [], denied: []},
    tools: {preApproved: [], allowed: [], denied: []},
    ...extra,
  }
}

async function expectUniqueViolation(p: Promise<unknown>): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, 'expected a unique violation').toBeDefined()
  expect(isUniqueViolation(err)).toBe(true)
}

describe.each(storeDrivers())('store repositories on $name', ({open}) => {
  let store: Store
  let cleanup: () => Promise<void>
  beforeAll(async () => {
    ;({store, cleanup} = await open())
  })
  afterAll(async () => {
    await cleanup?.()
  })

  async function newOrg(prefix = 'org') {
    return store.orgs.create({slug: `${prefix}-${suffix()}`, name: `Org ${prefix}`})
  }
  async function newUser(extra: {isAdmin?: boolean} = {}) {
    return store.users.create({email: `u-${suffix()}@example.test`, name: 'User', ...extra})
  }

  describe('orgs', () => {
    it('creates with a prefixed base62 id and finds by id and slug', async () => {
      const org = await newOrg('acme')
      expect(org.id).toMatch(/^org_[0-9A-Za-z]{22}$/)
      expect(org.createdAt).toBeInstanceOf(Date)
      expect(await store.orgs.getById(org.id)).toEqual(org)
      expect(await store.orgs.getBySlug(org.slug)).toEqual(org)
      expect(await store.orgs.getBySlug('no-such-org')).toBeUndefined()
      expect(await store.orgs.getById('org_missing')).toBeUndefined()
    })

    it('lists every org and refuses a duplicate slug', async () => {
      const a = await newOrg('list')
      const b = await newOrg('list')
      const slugs = (await store.orgs.list()).map((o) => o.slug)
      expect(slugs).toEqual(expect.arrayContaining([a.slug, b.slug]))
      await expectUniqueViolation(store.orgs.create({slug: a.slug, name: 'again'}))
    })
  })

  describe('users', () => {
    it('creates users, finds them by id and by email case-insensitively', async () => {
      const email = `Mixed.Case-${suffix()}@Example.test`
      const user = await store.users.create({email, name: 'Ada'})
      expect(user).toMatchObject({email, name: 'Ada', isAdmin: false, passwordHash: null})
      expect(user.id).toMatch(/^usr_[0-9A-Za-z]{22}$/)
      expect(await store.users.getById(user.id)).toEqual(user)
      expect(await store.users.getByEmail(email.toLowerCase())).toEqual(user)
      expect(await store.users.getByEmail(`nobody-${suffix()}@example.test`)).toBeUndefined()
      await expectUniqueViolation(store.users.create({email: email.toUpperCase(), name: 'Dup'}))
    })

    it('allows several users without email', async () => {
      const a = await store.users.create({email: null, name: 'A'})
      const b = await store.users.create({email: null, name: 'B'})
      expect(a.email).toBeNull()
      expect(b.id).not.toBe(a.id)
    })

    it('sets and clears the password hash', async () => {
      const user = await newUser()
      await store.users.setPasswordHash(user.id, 'scrypt$abc')
      expect((await store.users.getById(user.id))?.passwordHash).toBe('scrypt$abc')
      await store.users.setPasswordHash(user.id, null)
      expect((await store.users.getById(user.id))?.passwordHash).toBeNull()
    })
  })

  describe('first admin', () => {
    it('is the earliest admin user', async () => {
      const {store: own, cleanup: done} = await open()
      try {
        expect(await own.users.getFirstAdmin()).toBeUndefined()
        await own.users.create({email: null, name: 'not admin'})
        const first = await own.users.create({email: null, name: 'first', isAdmin: true})
        await sleep(5)
        await own.users.create({email: null, name: 'second', isAdmin: true})
        expect((await own.users.getFirstAdmin())?.id).toBe(first.id)
      } finally {
        await done()
      }
    })
  })

  describe('memberships', () => {
    it('inserts, updates the role, and lists by user and by org', async () => {
      const org = await newOrg()
      const other = await newOrg()
      const user = await newUser()
      const m = await store.memberships.upsert({orgId: org.id, userId: user.id, role: 'member'})
      expect(m).toMatchObject({orgId: org.id, userId: user.id, role: 'member'})
      expect(m.createdAt).toBeInstanceOf(Date)
      const promoted = await store.memberships.upsert({orgId: org.id, userId: user.id, role: 'owner'})
      expect(promoted.role).toBe('owner')
      expect(promoted.createdAt).toEqual(m.createdAt)
      expect(await store.memberships.get(org.id, user.id)).toEqual(promoted)
      expect(await store.memberships.get(other.id, user.id)).toBeUndefined()
      await store.memberships.upsert({orgId: other.id, userId: user.id, role: 'member'})
      expect((await store.memberships.listForUser(user.id)).map((x) => x.orgId).sort()).toEqual([org.id, other.id].sort())
      expect((await store.memberships.listForOrg(org.id)).map((x) => x.userId)).toEqual([user.id])
    })
  })

  describe('tokens', () => {
    it('creates, finds by hash, touches, lists and revokes', async () => {
      const org = await newOrg()
      const user = await newUser()
      const expiresAt = new Date(Date.now() + 86_400_000)
      const hash = sha256(`lobu_pat_${suffix()}`)
      const token = await store.tokens.create({
        orgId: org.id,
        userId: user.id,
        name: 'cli',
        tokenHash: hash,
        scopes: ['agents:read', 'chat'],
        expiresAt,
      })
      expect(token.id).toMatch(/^tok_[0-9A-Za-z]{22}$/)
      expect(token).toMatchObject({orgId: org.id, userId: user.id, name: 'cli', tokenHash: hash, scopes: ['agents:read', 'chat']})
      expect(token.expiresAt?.getTime()).toBe(expiresAt.getTime())
      expect(token.lastUsedAt).toBeNull()
      expect(token.revokedAt).toBeNull()
      expect(await store.tokens.findByHash(hash)).toEqual(token)
      expect(await store.tokens.findByHash(sha256('unknown'))).toBeUndefined()

      const at = new Date('2030-01-02T03:04:05.678Z')
      await store.tokens.touch(token.id, at)
      expect((await store.tokens.findByHash(hash))?.lastUsedAt?.toISOString()).toBe(at.toISOString())

      const noExpiry = await store.tokens.create({orgId: org.id, userId: user.id, name: 'forever', tokenHash: sha256(suffix()), scopes: [], expiresAt: null})
      expect(noExpiry.expiresAt).toBeNull()
      expect(noExpiry.scopes).toEqual([])
      expect((await store.tokens.listForUser(org.id, user.id)).map((t) => t.id)).toEqual([token.id, noExpiry.id])

      expect(await store.tokens.revoke(org.id, user.id, token.id)).toBe(true)
      const revoked = await store.tokens.findByHash(hash)
      expect(revoked?.revokedAt).toBeInstanceOf(Date)
      // Revoking again still matches and keeps the first revocation time.
      expect(await store.tokens.revoke(org.id, user.id, token.id)).toBe(true)
      expect((await store.tokens.findByHash(hash))?.revokedAt).toEqual(revoked?.revokedAt)
      expect(await store.tokens.revoke(org.id, user.id, 'tok_missing')).toBe(false)
    })

    it('scopes listing and revocation to the owner in that org', async () => {
      const orgA = await newOrg('a')
      const orgB = await newOrg('b')
      const alice = await newUser()
      const bob = await newUser()
      const t = await store.tokens.create({orgId: orgA.id, userId: alice.id, name: 'x', tokenHash: sha256(suffix()), scopes: ['chat'], expiresAt: null})
      expect(await store.tokens.listForUser(orgA.id, bob.id)).toEqual([])
      expect(await store.tokens.listForUser(orgB.id, alice.id)).toEqual([])
      expect(await store.tokens.revoke(orgA.id, bob.id, t.id)).toBe(false)
      expect(await store.tokens.revoke(orgB.id, alice.id, t.id)).toBe(false)
      expect((await store.tokens.findByHash(t.tokenHash))?.revokedAt).toBeNull()
    })

    it('keeps token hashes unique', async () => {
      const org = await newOrg()
      const user = await newUser()
      const hash = sha256(suffix())
      await store.tokens.create({orgId: org.id, userId: user.id, name: 'one', tokenHash: hash, scopes: [], expiresAt: null})
      await expectUniqueViolation(
        store.tokens.create({orgId: org.id, userId: user.id, name: 'two', tokenHash: hash, scopes: [], expiresAt: null}),
      )
    })

    it('stores no plaintext token anywhere (S1)', async () => {
      const org = await newOrg()
      const user = await newUser()
      const plaintext = `lobu_pat_${randomBytes(32).toString('base64url')}`
      await store.tokens.create({orgId: org.id, userId: user.id, name: 'secret', tokenHash: sha256(plaintext), scopes: ['chat'], expiresAt: null})
      // A plaintext token is not a hex SHA-256: the schema refuses it in token_hash.
      await expect(
        store.tokens.create({orgId: org.id, userId: user.id, name: 'oops', tokenHash: plaintext, scopes: [], expiresAt: null}),
      ).rejects.toThrow()
      const dump = await store.sql.query<{row: string}>('SELECT t::text AS row FROM tokens t')
      expect(dump.length).toBeGreaterThan(0)
      expect(dump.map((r) => r.row).join('\n')).not.toContain(plaintext)
      const columns = await store.sql.query<{column_name: string}>(
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'tokens'`,
      )
      expect(columns.map((c) => c.column_name).sort()).toEqual(
        ['created_at', 'expires_at', 'id', 'last_used_at', 'name', 'org_id', 'revoked_at', 'scopes', 'token_hash', 'user_id'].sort(),
      )
    })
  })

  describe('agents', () => {
    it('upserts, gets, lists and deletes within an org', async () => {
      const org = await newOrg()
      const created = await store.agents.upsert({orgId: org.id, agentId: 'support', spec: spec('Support'), managedBy: 'proj'})
      expect(created).toMatchObject({orgId: org.id, agentId: 'support', spec: spec('Support'), managedBy: 'proj'})
      expect(created.createdAt).toBeInstanceOf(Date)
      expect(created.updatedAt).toBeInstanceOf(Date)
      await store.agents.upsert({orgId: org.id, agentId: 'default', spec: spec('Default'), managedBy: null})
      expect((await store.agents.list(org.id)).map((a) => a.agentId)).toEqual(['default', 'support'])
      expect(await store.agents.get(org.id, 'support')).toEqual(created)
      expect(await store.agents.get(org.id, 'nope')).toBeUndefined()
      expect(await store.agents.delete(org.id, 'support')).toBe(true)
      expect(await store.agents.delete(org.id, 'support')).toBe(false)
      expect((await store.agents.list(org.id)).map((a) => a.agentId)).toEqual(['default'])
    })

    it('keeps the same agent id in two orgs independent (S4)', async () => {
      const orgA = await newOrg('a')
      const orgB = await newOrg('b')
      await store.agents.upsert({orgId: orgA.id, agentId: 'support', spec: spec('A support'), managedBy: null})
      expect(await store.agents.get(orgB.id, 'support')).toBeUndefined()
      expect(await store.agents.list(orgB.id)).toEqual([])
      expect(await store.agents.delete(orgB.id, 'support')).toBe(false)

      await store.agents.upsert({orgId: orgB.id, agentId: 'support', spec: spec('B support'), managedBy: 'b-proj'})
      expect((await store.agents.get(orgA.id, 'support'))?.spec.name).toBe('A support')
      expect((await store.agents.get(orgB.id, 'support'))?.spec.name).toBe('B support')
      expect(await store.agents.delete(orgB.id, 'support')).toBe(true)
      expect((await store.agents.get(orgA.id, 'support'))?.spec.name).toBe('A support')
    })

    it('does not write when spec and managedBy are unchanged', async () => {
      const org = await newOrg()
      const first = await store.agents.upsert({orgId: org.id, agentId: 'a', spec: spec('A'), managedBy: 'p'})
      const xmin = async () =>
        (await store.sql.query<{x: string}>('SELECT xmin::text AS x FROM agents WHERE org_id = $1 AND agent_id = $2', [org.id, 'a']))[0]?.x
      const before = await xmin()
      await sleep(5)
      // Same content with keys in another order: jsonb equality, still unchanged.
      const reordered = Object.fromEntries(Object.entries(spec('A')).reverse()) as unknown as AgentSpec
      expect(Object.keys(reordered)[0]).not.toBe(Object.keys(spec('A'))[0])
      const again = await store.agents.upsert({orgId: org.id, agentId: 'a', spec: reordered, managedBy: 'p'})
      expect(again.updatedAt).toEqual(first.updatedAt)
      expect(again.createdAt).toEqual(first.createdAt)
      expect(await xmin()).toBe(before) // no new row version at all

      await sleep(5)
      const changed = await store.agents.upsert({orgId: org.id, agentId: 'a', spec: spec('A', {description: 'new'}), managedBy: 'p'})
      expect(changed.updatedAt.getTime()).toBeGreaterThan(first.updatedAt.getTime())
      expect(changed.createdAt).toEqual(first.createdAt)
      expect(changed.spec.description).toBe('new')

      await sleep(5)
      const adopted = await store.agents.upsert({orgId: org.id, agentId: 'a', spec: changed.spec, managedBy: null})
      expect(adopted.managedBy).toBeNull()
      expect(adopted.updatedAt.getTime()).toBeGreaterThan(changed.updatedAt.getTime())
    })
  })

  describe('secrets', () => {
    const cipher = (s: string) => `v1:${Buffer.from(s).toString('base64')}`

    it('upserts per org, keeps the row when the keyed hash is the same, deletes', async () => {
      const orgA = await newOrg('a')
      const orgB = await newOrg('b')
      const h1 = sha256('one')
      const s1 = await store.secrets.upsert({orgId: orgA.id, name: 'OPENAI_API_KEY', ciphertext: cipher('x1'), keyedHash: h1})
      expect(s1).toMatchObject({orgId: orgA.id, name: 'OPENAI_API_KEY', ciphertext: cipher('x1'), keyedHash: h1})
      expect(await store.secrets.get(orgB.id, 'OPENAI_API_KEY')).toBeUndefined()
      expect(await store.secrets.list(orgB.id)).toEqual([])

      await sleep(5)
      const same = await store.secrets.upsert({orgId: orgA.id, name: 'OPENAI_API_KEY', ciphertext: cipher('x2'), keyedHash: h1})
      expect(same).toEqual(s1)

      await sleep(5)
      const h2 = sha256('two')
      const rotated = await store.secrets.upsert({orgId: orgA.id, name: 'OPENAI_API_KEY', ciphertext: cipher('x3'), keyedHash: h2})
      expect(rotated).toMatchObject({ciphertext: cipher('x3'), keyedHash: h2, createdAt: s1.createdAt})
      expect(rotated.updatedAt.getTime()).toBeGreaterThan(s1.updatedAt.getTime())

      await store.secrets.upsert({orgId: orgA.id, name: 'ANTHROPIC_API_KEY', ciphertext: cipher('y'), keyedHash: sha256('y')})
      expect((await store.secrets.list(orgA.id)).map((s) => s.name)).toEqual(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY'])
      expect(await store.secrets.delete(orgB.id, 'OPENAI_API_KEY')).toBe(false)
      expect(await store.secrets.delete(orgA.id, 'OPENAI_API_KEY')).toBe(true)
      expect(await store.secrets.get(orgA.id, 'OPENAI_API_KEY')).toBeUndefined()
    })

    it('refuses a value that is not a versioned ciphertext (S6 guard)', async () => {
      const org = await newOrg()
      await expect(
        store.secrets.upsert({orgId: org.id, name: 'K', ciphertext: 'sk-plaintext', keyedHash: sha256('k')}),
      ).rejects.toThrow()
      expect(await store.secrets.get(org.id, 'K')).toBeUndefined()
    })
  })

  describe('meta', () => {
    it('gets, sets and overwrites values', async () => {
      const key = `k-${suffix()}`
      expect(await store.meta.get(key)).toBeUndefined()
      await store.meta.set(key, 'one')
      expect(await store.meta.get(key)).toBe('one')
      await store.meta.set(key, 'two')
      expect(await store.meta.get(key)).toBe('two')
    })
  })

  describe('transactions', () => {
    it('rolls back every write when fn throws (S14)', async () => {
      const slug = `tx-${suffix()}`
      const boom = new Error('boom mid-apply')
      await expect(
        store.transaction(async (tx) => {
          const org = await tx.orgs.create({slug, name: 'Tx'})
          const user = await tx.users.create({email: `${slug}@example.test`, name: 'U'})
          await tx.memberships.upsert({orgId: org.id, userId: user.id, role: 'owner'})
          await tx.agents.upsert({orgId: org.id, agentId: 'support', spec: spec('S'), managedBy: 'p'})
          await tx.secrets.upsert({orgId: org.id, name: 'K', ciphertext: 'v1:AAAA', keyedHash: sha256('k')})
          await tx.meta.set(slug, 'x')
          expect(await tx.orgs.getBySlug(slug)).toBeDefined() // visible inside
          throw boom
        }),
      ).rejects.toBe(boom)
      expect(await store.orgs.getBySlug(slug)).toBeUndefined()
      expect(await store.users.getByEmail(`${slug}@example.test`)).toBeUndefined()
      expect(await store.meta.get(slug)).toBeUndefined()
      const orphans = await store.sql.query(`SELECT 1 FROM agents a WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = a.org_id)`)
      expect(orphans).toEqual([])
    })

    it('commits and returns fn’s result', async () => {
      const slug = `ok-${suffix()}`
      const org = await store.transaction(async (tx) => tx.orgs.create({slug, name: 'Ok'}))
      expect(await store.orgs.getById(org.id)).toEqual(org)
    })

    it('joins nested transactions, however deep in fn’s await chain', async () => {
      const outerSlug = `outer-${suffix()}`
      const innerSlug = `inner-${suffix()}`
      const deepSlug = `deep-${suffix()}`
      // A helper that opens its own transaction, called from fn through Promise.all.
      const helper = async (slug: string) => {
        await sleep(1)
        return store.transaction(async (inner) => inner.orgs.create({slug, name: 'Deep'}))
      }
      await expect(
        store.transaction(async (tx) => {
          await tx.orgs.create({slug: outerSlug, name: 'Outer'})
          await store.transaction(async (inner) => {
            await inner.orgs.create({slug: innerSlug, name: 'Inner'})
            expect(await inner.orgs.getBySlug(outerSlug)).toBeDefined()
          })
          await Promise.all([helper(deepSlug)])
          expect(await tx.orgs.getBySlug(deepSlug)).toBeDefined()
          throw new Error('undo all')
        }),
      ).rejects.toThrow('undo all')
      for (const slug of [outerSlug, innerSlug, deepSlug]) expect(await store.orgs.getBySlug(slug)).toBeUndefined()
    })

    it('refuses a query of the store itself inside fn, loudly instead of a deadlock', async () => {
      const slug = `misuse-${suffix()}`
      const err = await store
        .transaction(async (tx) => {
          await tx.orgs.create({slug, name: 'Tx'})
          await store.orgs.getBySlug(slug)
        })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreMisuseError)
      expect(String(err)).toMatch(/use the tx given to fn/)
      expect(await store.orgs.getBySlug(slug)).toBeUndefined() // rolled back
    })

    it('keeps other flows out of an open transaction: they run beside it, or after it on PGlite', async () => {
      const txSlug = `in-tx-${suffix()}`
      const otherSlug = `other-${suffix()}`
      let entered!: () => void
      const inside = new Promise<void>((r) => (entered = r))
      let release!: () => void
      const released = new Promise<void>((r) => (release = r))
      const first = store.transaction(async (tx) => {
        await tx.orgs.create({slug: txSlug, name: 'Tx'})
        entered()
        await released
        throw new Error('roll back the first')
      })
      await inside
      // Started while the first is open, from another flow: its own transaction and a root query.
      const other = store.transaction(async (tx) => tx.orgs.create({slug: otherSlug, name: 'Other'}))
      const seen = store.orgs.getBySlug(txSlug)
      setTimeout(release, 20)
      await expect(first).rejects.toThrow('roll back the first')
      await other
      expect(await seen).toBeUndefined() // never saw the uncommitted row
      expect(await store.orgs.getBySlug(otherSlug)).toBeDefined() // not rolled back with the first
      expect(await store.orgs.getBySlug(txSlug)).toBeUndefined()
    })

    it('refuses to run queries on a transaction that has ended', async () => {
      let kept: Parameters<Parameters<Store['transaction']>[0]>[0] | undefined
      await store.transaction(async (tx) => {
        kept = tx
      })
      await expect(kept!.orgs.list()).rejects.toThrow(/ended/)
    })

    it('serialises concurrent transactions without losing writes', async () => {
      const org = await newOrg()
      await store.meta.set(`counter-${org.id}`, '0')
      await Promise.all(
        Array.from({length: 8}, () =>
          store.transaction(async (tx) => {
            const [row] = await tx.sql.query<{value: string}>('SELECT value FROM meta WHERE key = $1 FOR UPDATE', [`counter-${org.id}`])
            await tx.meta.set(`counter-${org.id}`, String(Number(row!.value) + 1))
          }),
        ),
      )
      expect(await store.meta.get(`counter-${org.id}`)).toBe('8')
    })
  })

  it('describes itself for banners', () => {
    expect(['pglite', 'postgres']).toContain(store.kind)
    expect(store.description).not.toMatch(/:[^@/]+@/) // never a password
  })
})

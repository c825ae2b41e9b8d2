import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {AUTH_CACHE_TTL_MS, AuthCache, TOUCH_INTERVAL_MS, authCacheOf} from '../../../../src/lib/gateway/auth/authenticate.js'
import {TokenService, mintToken} from '../../../../src/lib/gateway/auth/token-service.js'
import {HttpError} from '../../../../src/lib/gateway/http/errors.js'
import type {Store, StoreTx, TokenRepo} from '../../../../src/lib/gateway/store/types.js'
import {storeDrivers} from '../../../support/store.js'

const suffix = () => randomBytes(4).toString('hex')

/** The store's tokens, counting the lookups authentication makes. */
function counting(store: Store) {
  const calls = {lookups: 0}
  const tokens: TokenRepo = {...store.tokens, findWithOwner: (hash) => (calls.lookups++, store.tokens.findWithOwner(hash))}
  return {calls, tokens: {tokens} as Pick<StoreTx, 'tokens'>}
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p
    return 200
  } catch (err) {
    if (err instanceof HttpError) return err.status
    throw err
  }
}

describe.each(storeDrivers())('authentication cache on $name', ({open}) => {
  let store: Store
  let cleanup: () => Promise<void>
  let orgId: string
  let userId: string
  beforeAll(async () => {
    ;({store, cleanup} = await open())
    orgId = (await store.orgs.create({slug: `o-${suffix()}`, name: 'O'})).id
    userId = (await store.users.create({email: `u-${suffix()}@example.test`, name: 'U'})).id
    await store.memberships.upsert({orgId, userId, role: 'member'})
  })
  afterAll(async () => {
    await cleanup?.()
  })

  const mint = async (expiresAt: Date | null = null) => {
    const {row, token} = await mintToken(store, {orgId, userId, name: 't', scopes: ['chat'], expiresAt})
    return {id: row.id, bearer: `Bearer ${token}`}
  }

  it('answers a known token from memory with one joined lookup, and never a failed one', async () => {
    const {calls, tokens} = counting(store)
    const cache = new AuthCache(tokens)
    const t = await mint()
    const first = await cache.authenticate(t.bearer)
    expect(first).toMatchObject({user: {id: userId}, org: {id: orgId}, role: 'member', token: {id: t.id}})
    expect([...first.scopes]).toEqual(['chat'])
    expect('passwordHash' in first.user).toBe(false)
    await cache.authenticate(t.bearer)
    await cache.authenticate(t.bearer)
    expect(calls.lookups).toBe(1)
    // Unknown tokens are looked up every time (never cached as "bad").
    const unknown = `Bearer lobu_pat_${'x'.repeat(43)}`
    expect(await status(cache.authenticate(unknown))).toBe(401)
    expect(await status(cache.authenticate(unknown))).toBe(401)
    expect(calls.lookups).toBe(3)
  })

  it('concurrent first requests of a token share one lookup', async () => {
    const {calls, tokens} = counting(store)
    const cache = new AuthCache(tokens)
    const t = await mint()
    await Promise.all(Array.from({length: 20}, () => cache.authenticate(t.bearer)))
    expect(calls.lookups).toBe(1)
  })

  it('a token revoked through this instance is refused at once', async () => {
    const t = await mint()
    const cache = authCacheOf(store)
    const auth = await cache.authenticate(t.bearer)
    await new TokenService(store).revoke(auth, t.id)
    expect(await status(cache.authenticate(t.bearer))).toBe(401)
  })

  it('a revocation elsewhere (another instance) is seen within AUTH_CACHE_TTL_MS', async () => {
    const t = await mint()
    const cache = new AuthCache(store)
    const now = Date.now()
    await cache.authenticate(t.bearer, new Date(now))
    // Revoked straight in the database: this cache does not know yet...
    expect(await store.tokens.revoke(orgId, userId, t.id)).toBe(true)
    expect(await status(cache.authenticate(t.bearer, new Date(now + 10)))).toBe(200)
    // ...and reads it again once its entry is AUTH_CACHE_TTL_MS old.
    expect(await status(cache.authenticate(t.bearer, new Date(now + AUTH_CACHE_TTL_MS)))).toBe(401)
  })

  it('expiry is checked on every request, cached or not', async () => {
    const now = Date.now()
    const t = await mint(new Date(now + 60_000))
    const cache = new AuthCache(store)
    expect(await status(cache.authenticate(t.bearer, new Date(now)))).toBe(200)
    expect(await status(cache.authenticate(t.bearer, new Date(now + 60_000)))).toBe(401)
  })

  it('a lookup that started before a revocation is not cached', async () => {
    const t = await mint()
    let release!: () => void
    let readDone!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const read = new Promise<void>((resolve) => (readDone = resolve))
    const slow: Pick<StoreTx, 'tokens'> = {tokens: {...store.tokens, findWithOwner: async (hash) => {
      const row = await store.tokens.findWithOwner(hash)
      readDone()
      await gate
      return row
    }}}
    const cache = new AuthCache(slow)
    const inFlight = cache.authenticate(t.bearer)
    // The lookup has read the token (valid then); now it is revoked here, before the lookup ends.
    await read
    await store.tokens.revoke(orgId, userId, t.id)
    cache.forgetToken(t.id)
    release()
    // The request that raced the revocation may pass; the next one reads the database again.
    expect(await status(inFlight)).toBe(200)
    expect(await status(cache.authenticate(t.bearer))).toBe(401)
  })

  it('forgetAll drops every entry (membership changes)', async () => {
    const {calls, tokens} = counting(store)
    const cache = new AuthCache(tokens)
    const t = await mint()
    await cache.authenticate(t.bearer)
    cache.forgetAll()
    await cache.authenticate(t.bearer)
    expect(calls.lookups).toBe(2)
  })

  it('writes last_used_at after the request, at most once a minute per token', async () => {
    const t = await mint()
    const touches: string[][] = []
    const tokens: TokenRepo = {...store.tokens, touchStale: (ids, at, staleBefore) => (touches.push([...ids]), store.tokens.touchStale(ids, at, staleBefore))}
    const cache = new AuthCache({tokens})
    const lastUsed = async () => (await store.tokens.listForUser(orgId, userId)).find((r) => r.id === t.id)?.lastUsedAt ?? null
    const now = Date.now()
    await cache.authenticate(t.bearer, new Date(now))
    // Not yet: the write is not part of the request, it follows it.
    expect(touches).toEqual([])
    await expect.poll(lastUsed).toBeInstanceOf(Date)
    expect(touches).toEqual([[t.id]])
    const first = (await lastUsed())!.getTime()
    await cache.authenticate(t.bearer, new Date(now + 1_000))
    await new Promise((resolve) => setImmediate(resolve))
    expect(touches).toHaveLength(1)
    expect((await lastUsed())!.getTime()).toBe(first)
    // A minute later (a fresh lookup, as after the cache's TTL): written again.
    await cache.authenticate(t.bearer, new Date(now + TOUCH_INTERVAL_MS + 2_000))
    await expect.poll(async () => (await lastUsed())!.getTime()).toBeGreaterThan(first)
  })
})

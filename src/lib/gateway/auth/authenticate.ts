/**
 * Bearer authentication (docs/SECURITY.md S20): the token comes only from `Authorization: Bearer …`, is looked
 * up by hash and compared in constant time; a failed bearer is a 401, never a fallback.
 *
 * The hot path: a token that authenticated recently is answered from a small in-memory cache
 * keyed by its hash (see AuthCache), so most requests run no query at all; a miss is ONE joined
 * query (token + user + org + membership). `last_used_at` is written at most once a minute per
 * token, after the request has gone on (never awaited by it).
 */
import {isScope, type Scope} from '../../contract/scopes.js'
import type {MemberRole, OrgRow, StoreTx, TokenRow, TokenWithOwner, UserRow} from '../store/types.js'
import {HttpError, forbidden, unauthenticated} from '../http/errors.js'
import {effectiveScopes, roleAllows, roleNeededFor} from './roles.js'
import {hashToken, isTokenFormat, sameHash} from './tokens.js'

/** Who is calling: the token's user in the token's org. Every tenant query uses these ids. */
export interface AuthContext {
  token: TokenRow
  /** The user (their password hash is never loaded for authentication). */
  user: Omit<UserRow, 'passwordHash'>
  org: OrgRow
  role: MemberRole
  /** Effective scopes: the token's scopes that the user's role allows (see roles.ts). */
  scopes: ReadonlySet<Scope>
}

/** last_used_at is written at most once per this interval per token. */
export const TOUCH_INTERVAL_MS = 60_000

/**
 * How long a successful authentication is reused without asking the database. This is the
 * staleness bound across gateway instances sharing one PostgreSQL: a token revoked (or a
 * membership changed) through ANOTHER instance keeps working here for at most this long. On the
 * instance that revoked it, it stops at once (AuthCache.forgetToken); expiry is checked on
 * every request. One second, so that a demotion bites on every instance within 1 s (roles.ts).
 */
export const AUTH_CACHE_TTL_MS = 1_000

const MAX_ENTRIES = 10_000

const INVALID = 'the token is invalid, expired or revoked'
const INVALID_HINT = 'log in again (`lobu run` for the local gateway, `lobu oauth login` for a remote one)'

/** Extract the bearer from an Authorization header value; undefined when absent or not Bearer. */
export function bearerFrom(header: string | undefined | null): string | undefined {
  if (!header) return undefined
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}

interface Entry {
  auth: AuthContext
  /** When the row was read (ms). */
  loadedAt: number
  /** The last use known to be stored (ms), or 0. */
  storedUse: number
}

export interface AuthCacheOptions {
  ttlMs?: number
  maxEntries?: number
  /** Receives failures of the background last_used_at write. */
  onTouchError?: (err: unknown) => void
}

/**
 * Authentication of one store, with its cache. Get it with `authCacheOf(store)`: every caller
 * of the same store (the /api middleware, the OAuth endpoints, the token service that revokes)
 * shares one instance, so a revocation here is seen by all of them at once.
 */
export class AuthCache {
  private readonly entries = new Map<string, Entry>()
  private readonly loading = new Map<string, Promise<TokenWithOwner | undefined>>()
  /** Bumped by every invalidation: a read that started before one is not cached. */
  private generation = 0
  private touchQueue = new Set<string>()
  /** The latest use among the queued ones (ms). */
  private touchAt = 0
  private touchScheduled = false
  private readonly ttlMs: number
  private readonly maxEntries: number

  constructor(
    private readonly store: Pick<StoreTx, 'tokens'>,
    private readonly options: AuthCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? AUTH_CACHE_TTL_MS
    this.maxEntries = options.maxEntries ?? MAX_ENTRIES
  }

  /** Resolve a bearer token to its AuthContext or throw 401. */
  async authenticate(authorization: string | undefined | null, now: Date = new Date()): Promise<AuthContext> {
    if (!authorization) throw unauthenticated('missing bearer token: send `Authorization: Bearer <token>`', INVALID_HINT)
    const bearer = bearerFrom(authorization)
    if (!bearer || !isTokenFormat(bearer)) throw unauthenticated(INVALID, INVALID_HINT)
    const hash = hashToken(bearer)
    const at = now.getTime()

    let entry = this.entries.get(hash)
    // A clock that went backwards makes an entry look young: treat it as stale too.
    if (entry && (at - entry.loadedAt >= this.ttlMs || at < entry.loadedAt)) {
      this.entries.delete(hash)
      entry = undefined
    }
    if (!entry) entry = await this.load(hash, at)
    const {token} = entry.auth
    if (!sameHash(token.tokenHash, hash) || token.revokedAt || (token.expiresAt && token.expiresAt.getTime() <= at)) {
      this.entries.delete(hash)
      throw unauthenticated(INVALID, INVALID_HINT)
    }
    if (at - entry.storedUse >= TOUCH_INTERVAL_MS) {
      entry.storedUse = at
      this.touch(token.id, at)
    }
    return entry.auth
  }

  /** Forget a token (revoked through this instance): its next request reads the database. */
  forgetToken(tokenId: string): void {
    this.generation++
    // A read in flight may predate the revocation: later requests must not join it.
    this.loading.clear()
    for (const [hash, entry] of this.entries) if (entry.auth.token.id === tokenId) this.entries.delete(hash)
  }

  /** Forget everything (memberships or users changed). */
  forgetAll(): void {
    this.generation++
    this.loading.clear()
    this.entries.clear()
  }

  private async load(hash: string, at: number): Promise<Entry> {
    const generation = this.generation
    // Concurrent first requests of one token share one query.
    let pending = this.loading.get(hash)
    if (!pending) {
      const query = this.store.tokens.findWithOwner(hash).finally(() => {
        if (this.loading.get(hash) === query) this.loading.delete(hash)
      })
      pending = query
      this.loading.set(hash, query)
    }
    const found = await pending
    if (!found) throw unauthenticated(INVALID, INVALID_HINT)
    const auth: AuthContext = {
      token: found.token,
      user: found.user,
      org: found.org,
      role: found.role,
      scopes: effectiveScopes(found.token.scopes.filter(isScope), found.role, found.user.isAdmin),
    }
    const entry: Entry = {auth, loadedAt: at, storedUse: found.token.lastUsedAt?.getTime() ?? 0}
    const usable = !found.token.revokedAt && !(found.token.expiresAt && found.token.expiresAt.getTime() <= at)
    if (usable && generation === this.generation) {
      const cached = this.entries.get(hash)
      if (cached && cached.loadedAt >= at) return cached
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string)
      this.entries.set(hash, entry)
    }
    return entry
  }

  /**
   * Record a use. The write happens after the current request has moved on (setImmediate),
   * batched with the other tokens used meanwhile, and only where the stored last use is older
   * than a minute (another instance may have written it).
   */
  private touch(tokenId: string, at: number): void {
    this.touchQueue.add(tokenId)
    this.touchAt = Math.max(this.touchAt, at)
    if (this.touchScheduled) return
    this.touchScheduled = true
    setImmediate(() => {
      this.touchScheduled = false
      const ids = [...this.touchQueue]
      const when = this.touchAt
      this.touchQueue = new Set()
      this.touchAt = 0
      this.store.tokens.touchStale(ids, new Date(when), new Date(when - TOUCH_INTERVAL_MS)).catch((err) => this.options.onTouchError?.(err))
    })
  }
}

const caches = new WeakMap<object, AuthCache>()

/** The AuthCache of a store (created on first use). */
export function authCacheOf(store: Pick<StoreTx, 'tokens'>): AuthCache {
  let cache = caches.get(store)
  if (!cache) {
    cache = new AuthCache(store)
    caches.set(store, cache)
  }
  return cache
}

/**
 * Resolve a bearer token to its AuthContext or throw 401 (through the store's AuthCache).
 * Records the use in last_used_at (at most once a minute per token, not awaited).
 */
export function authenticate(store: Pick<StoreTx, 'tokens'>, authorization: string | undefined | null, now: Date = new Date()): Promise<AuthContext> {
  return authCacheOf(store).authenticate(authorization, now)
}

export function hasScope(auth: AuthContext, scope: Scope): boolean {
  return auth.scopes.has(scope)
}

/**
 * Throw 403 when the caller may not use `scope`: FORBIDDEN_ROLE naming the role needed when the
 * user's role does not allow it (however the token was minted), else FORBIDDEN naming the scope.
 */
export function assertScope(auth: AuthContext, scope: Scope): void {
  if (auth.scopes.has(scope)) return
  if (!roleAllows(auth.role, auth.user.isAdmin, scope)) {
    const needed = roleNeededFor(scope)
    throw new HttpError(
      403,
      'FORBIDDEN_ROLE',
      `this needs the ${needed} role${needed === 'owner' ? ` in organization "${auth.org.slug}"` : ''} (\`${scope}\`); you are ${auth.role === 'owner' ? 'an owner' : 'a member'}`,
      needed === 'owner' ? 'ask an owner of the organization (lobu org members set-role)' : 'ask the gateway admin',
    )
  }
  throw forbidden(`this token lacks the \`${scope}\` scope`, `create a token that has it: lobu token create --scope ${scope}`)
}

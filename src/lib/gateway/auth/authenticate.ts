/**
 * Bearer authentication (S20): the token comes only from `Authorization: Bearer …`, is looked
 * up by hash and compared in constant time; a failed bearer is a 401, never a fallback.
 */
import type {MemberRole, OrgRow, Store, TokenRow, UserRow} from '../store/types.js'
import {forbidden, unauthenticated} from '../http/errors.js'
import {isScope, type Scope} from './scopes.js'
import {hashToken, isTokenFormat, sameHash} from './tokens.js'

/** Who is calling: the token's user in the token's org. Every tenant query uses these ids. */
export interface AuthContext {
  token: TokenRow
  user: UserRow
  org: OrgRow
  role: MemberRole
  scopes: ReadonlySet<Scope>
}

/** last_used_at is written at most once per this interval per token. */
export const TOUCH_INTERVAL_MS = 60_000

const INVALID = 'the token is invalid, expired or revoked'
const INVALID_HINT = 'log in again (`lobu run` for the local gateway, `lobu oauth login` for a remote one)'

/** Extract the bearer from an Authorization header value; undefined when absent or not Bearer. */
export function bearerFrom(header: string | undefined | null): string | undefined {
  if (!header) return undefined
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1]
}

/**
 * Resolve a bearer token to its AuthContext or throw 401. Touches last_used_at (throttled).
 */
export async function authenticate(store: Store, authorization: string | undefined | null, now: Date = new Date()): Promise<AuthContext> {
  if (!authorization) throw unauthenticated('missing bearer token: send `Authorization: Bearer <token>`', INVALID_HINT)
  const bearer = bearerFrom(authorization)
  if (!bearer || !isTokenFormat(bearer)) throw unauthenticated(INVALID, INVALID_HINT)
  const hash = hashToken(bearer)
  const token = await store.tokens.findByHash(hash)
  if (!token || !sameHash(token.tokenHash, hash)) throw unauthenticated(INVALID, INVALID_HINT)
  if (token.revokedAt || (token.expiresAt && token.expiresAt.getTime() <= now.getTime())) throw unauthenticated(INVALID, INVALID_HINT)
  const [user, org, membership] = await Promise.all([
    store.users.getById(token.userId),
    store.orgs.getById(token.orgId),
    store.memberships.get(token.orgId, token.userId),
  ])
  if (!user || !org || !membership) throw unauthenticated(INVALID, INVALID_HINT)
  if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
    await store.tokens.touch(token.id, now)
    token.lastUsedAt = now
  }
  return {token, user, org, role: membership.role, scopes: new Set(token.scopes.filter(isScope))}
}

export function hasScope(auth: AuthContext, scope: Scope): boolean {
  return auth.scopes.has(scope)
}

/** Throw 403 FORBIDDEN naming the scope when the token lacks it. */
export function assertScope(auth: AuthContext, scope: Scope): void {
  if (!auth.scopes.has(scope)) {
    throw forbidden(`this token lacks the \`${scope}\` scope`, `create a token that has it: lobu token create --scope ${scope}`)
  }
}

/**
 * Token service: mint, list and revoke personal access tokens of the caller (docs/SECURITY.md S1, S19).
 * Every query takes the caller's org and user ids.
 */
import type {CreateTokenRequest, CreatedToken, TokenView} from '../../contract/api.js'
import {SCOPES, isScope, normalizeScopes, type Scope} from '../../contract/scopes.js'
import type {StoreTx, TokenRow} from '../store/types.js'
import {badRequest, forbidden, notFound} from '../http/errors.js'
import {authCacheOf, type AuthContext} from './authenticate.js'
import {DEFAULT_EXPIRES_IN, InvalidExpiryError, expiryDate} from './expiry.js'
import {generateToken, hashToken} from './tokens.js'

export type {CreatedToken, TokenView}

export type CreateTokenInput = CreateTokenRequest

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null)

/** Check requested scopes: non-empty, all known (400), all held by the caller (403, docs/SECURITY.md S19). */
export function checkRequestedScopes(requested: readonly string[], held: ReadonlySet<string> | null): Scope[] {
  if (requested.length === 0) throw badRequest('INVALID_SCOPE', 'scopes must not be empty', `valid scopes: ${SCOPES.join(', ')}`)
  const unknown = requested.filter((s) => !isScope(s))
  if (unknown.length > 0) {
    throw badRequest('INVALID_SCOPE', `unknown scope${unknown.length > 1 ? 's' : ''}: ${unknown.map((s) => JSON.stringify(s)).join(', ')}`, `valid scopes: ${SCOPES.join(', ')}`)
  }
  const scopes = normalizeScopes(requested as Scope[])
  if (held) {
    const missing = scopes.filter((s) => !held.has(s))
    if (missing.length > 0) {
      throw forbidden(`cannot grant scope${missing.length > 1 ? 's' : ''} ${missing.map((s) => `\`${s}\``).join(', ')}: this token does not hold ${missing.length > 1 ? 'them' : 'it'}`)
    }
  }
  return scopes
}

export function resolveExpiry(expiresIn: string | number | undefined, now: Date = new Date()): Date | null {
  try {
    return expiryDate(expiresIn ?? DEFAULT_EXPIRES_IN, now)
  } catch (err) {
    if (err instanceof InvalidExpiryError) throw badRequest('INVALID_REQUEST', `expiresIn: ${err.message}`)
    throw err
  }
}

/**
 * A minted token never outlives the token that minted it (docs/SECURITY.md, "Token lifetime"):
 * the requested expiry, cut to the minter's (`never` from a token that expires becomes its expiry).
 */
function notAfter(requested: Date | null, minter: Date | null): Date | null {
  if (minter === null) return requested
  if (requested === null || requested.getTime() > minter.getTime()) return minter
  return requested
}

/** Mint a token row and return the plaintext once. No scope checks: callers decide. */
export async function mintToken(
  tx: StoreTx,
  input: {orgId: string; userId: string; name: string; scopes: Scope[]; expiresAt: Date | null},
): Promise<{row: TokenRow; token: string}> {
  const token = generateToken()
  const row = await tx.tokens.create({...input, tokenHash: hashToken(token)})
  return {row, token}
}

export function toCreatedToken(row: TokenRow, token: string): CreatedToken {
  return {id: row.id, token, name: row.name, scopes: normalizeScopes(row.scopes.filter(isScope)), expiresAt: iso(row.expiresAt)}
}

export class TokenService {
  constructor(private readonly store: StoreTx) {}

  async create(auth: AuthContext, input: CreateTokenInput, now: Date = new Date()): Promise<CreatedToken> {
    const scopes = checkRequestedScopes(input.scopes, auth.scopes)
    const expiresAt = notAfter(resolveExpiry(input.expiresIn, now), auth.token.expiresAt)
    const {row, token} = await mintToken(this.store, {orgId: auth.org.id, userId: auth.user.id, name: input.name, scopes, expiresAt})
    return toCreatedToken(row, token)
  }

  /** The caller's live (unrevoked) tokens in its org; never the hash or the secret. */
  async list(auth: AuthContext, now: Date = new Date()): Promise<TokenView[]> {
    const rows = await this.store.tokens.listForUser(auth.org.id, auth.user.id)
    return rows
      .filter((row) => !row.revokedAt)
      .map((row) => ({
        id: row.id,
        name: row.name,
        scopes: row.scopes,
        createdAt: row.createdAt.toISOString(),
        lastUsedAt: iso(row.lastUsedAt),
        expiresAt: iso(row.expiresAt),
        expired: row.expiresAt !== null && row.expiresAt.getTime() <= now.getTime(),
        current: row.id === auth.token.id,
      }))
  }

  /** Revoke one of the caller's own tokens; another user's or a missing one is the same 404. */
  async revoke(auth: AuthContext, id: string): Promise<{id: string; revoked: true}> {
    const done = id.length <= 200 && (await this.store.tokens.revoke(auth.org.id, auth.user.id, id))
    // The revoked token stops working on this instance at once (not after the cache's TTL).
    if (done) authCacheOf(this.store).forgetToken(id)
    if (!done) throw notFound('token not found', 'list your tokens with `lobu token list`')
    return {id, revoked: true}
  }
}

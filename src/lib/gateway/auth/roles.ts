/**
 * Roles (docs/SECURITY.md, "Roles"). What a token may do is its scopes ∩ what its user's role
 * in the token's org allows, computed each time the token is authenticated, so a demotion takes
 * effect at the next read of the membership (at once on the instance that changed it, within
 * the auth cache's TTL on the others).
 *
 * - `owner`: every scope but `admin` (write agents, apply, manage members, mint any scope it holds);
 * - `member`: `agents:read`, `chat`, `oauth`, `tokens:write` (read agents, chat, its own tokens,
 *   provider keys and OAuth connections);
 * - the install's admin user (`is_admin`) also keeps `admin`, whatever its role.
 */
import type {MemberRole} from '../store/types.js'
import {SCOPES, type Scope} from '../../contract/scopes.js'

const ROLE_SCOPES: Readonly<Record<MemberRole, ReadonlySet<Scope>>> = {
  owner: new Set(SCOPES.filter((s) => s !== 'admin')),
  member: new Set<Scope>(['agents:read', 'chat', 'oauth', 'tokens:write']),
}


/** Whether a user with `role` (and `isAdmin`) may use `scope` at all. */
export function roleAllows(role: MemberRole, isAdmin: boolean, scope: Scope): boolean {
  if (scope === 'admin') return isAdmin
  return ROLE_SCOPES[role]?.has(scope) ?? false
}

/** A token's effective scopes: the ones it carries that its user's role allows. */
export function effectiveScopes(tokenScopes: Iterable<Scope>, role: MemberRole, isAdmin: boolean): Set<Scope> {
  const out = new Set<Scope>()
  for (const s of tokenScopes) if (roleAllows(role, isAdmin, s)) out.add(s)
  return out
}

/** The role a scope needs, for FORBIDDEN_ROLE messages. */
export function roleNeededFor(scope: Scope): string {
  return scope === 'admin' ? 'admin' : 'owner'
}

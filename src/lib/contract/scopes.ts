/**
 * Token scopes. Kept dependency-free: the CLI validates
 * `--scope` flags with it before sending anything.
 */
export const SCOPES = ['agents:read', 'agents:write', 'chat', 'tokens:write', 'oauth', 'connections:token', 'admin'] as const

export type Scope = (typeof SCOPES)[number]

/** Default scopes of `lobu token create`. `connections:token` and `admin` are never defaults. */
export const DEFAULT_SCOPES: readonly Scope[] = ['agents:read', 'agents:write', 'chat']

/** Every scope but `admin`: what an org owner's first token carries. */
export const OWNER_SCOPES: readonly Scope[] = SCOPES.filter((s) => s !== 'admin')

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value)
}

/** Deduplicate and put scopes in canonical order. */
export function normalizeScopes(scopes: readonly Scope[]): Scope[] {
  const set = new Set(scopes)
  return SCOPES.filter((s) => set.has(s))
}

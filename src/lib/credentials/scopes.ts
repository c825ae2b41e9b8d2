// One list of scopes for the CLI and the gateway (that module imports nothing).
import {DEFAULT_SCOPES, SCOPES, type Scope, isScope} from '../contract/scopes.js'
import {UsageError} from '../core/errors.js'

export {SCOPES, type Scope, isScope}

/** Default scopes of `lobu token create`; `connections:token` and `admin` are never defaults. */
export const DEFAULT_TOKEN_SCOPES: Scope[] = [...DEFAULT_SCOPES]

/**
 * Parse `--scope` values (repeatable; each may also hold a comma/space separated list) into a
 * de-duplicated list. Unknown or empty → usage error, before anything is sent.
 */
export function parseScopes(values: readonly string[]): Scope[] {
  const scopes: Scope[] = []
  const unknown: string[] = []
  for (const value of values) {
    for (const part of value.split(/[\s,]+/).filter(Boolean)) {
      if (!isScope(part)) unknown.push(part)
      else if (!scopes.includes(part)) scopes.push(part)
    }
  }
  if (unknown.length > 0) {
    throw new UsageError(`unknown scope${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, {
      code: 'INVALID_SCOPE',
      hint: `Valid scopes: ${SCOPES.join(', ')}`,
    })
  }
  if (scopes.length === 0) {
    throw new UsageError('--scope needs at least one scope', {code: 'INVALID_SCOPE', hint: `Valid scopes: ${SCOPES.join(', ')}`})
  }
  return scopes
}

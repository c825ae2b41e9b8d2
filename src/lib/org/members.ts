/**
 * `lobu org members …`: the routes, the checks done before anything is sent, and the table.
 * Without `--org` the caller's own org is managed (an owner's token); with `--org SLUG` the
 * admin routes are used (the install's admin manages any org).
 */
import {UsageError} from '../core/errors.js'
import {formatDate, formatTable} from '../credentials/format.js'

export type Role = 'owner' | 'member'
export const ROLES: readonly Role[] = ['owner', 'member']

export interface Member {
  userId: string
  email: string | null
  name: string
  role: Role
  since: string
}

/** `/api/v1/members[/USER]` or `/api/v1/admin/orgs/SLUG/members[/USER]`. */
export function membersPath(org: string | undefined, user?: string): string {
  const base = org ? `/api/v1/admin/orgs/${encodeURIComponent(org)}/members` : '/api/v1/members'
  return user === undefined ? base : `${base}/${encodeURIComponent(user)}`
}

export function checkOrgSlug(org: string | undefined): string | undefined {
  if (org !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(org)) {
    throw new UsageError(`invalid --org "${org}"`, {code: 'INVALID_ORG', hint: 'an org slug is lowercase letters, digits and "-" (see: lobu org create)'})
  }
  return org
}

export function checkEmail(email: string): string {
  const value = email.trim()
  if (!/^[^\s@]+@[^\s@]+$/.test(value)) throw new UsageError(`invalid email "${email}"`, {code: 'INVALID_EMAIL', hint: 'give an address like ada@acme.test'})
  return value
}

/** A member is named by email or user id (usr_…). */
export function checkMemberRef(ref: string): string {
  const value = ref.trim()
  if (value === '' || value.length > 320) throw new UsageError('name the member by email or user id', {code: 'USAGE', hint: 'lobu org members list shows both'})
  return value
}

export function checkRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`unknown role "${role}"`, {code: 'INVALID_ROLE', hint: `a role is one of: ${ROLES.join(', ')}`})
  return role as Role
}

/**
 * A password from stdin: with `explicit` (--password-stdin), or whenever stdin carries data (a
 * pipe, a file, or the socket of a program that spawned lobu with input; see lib/cli/stdin.ts).
 * Never from a flag value (shell history, ps) and never from a terminal.
 */
export async function passwordFromStdin(explicit: boolean, example: string): Promise<string | undefined> {
  const {readAllStdin, stdinHasData, stdinKind} = await import('../cli/stdin.js')
  if (!stdinHasData()) {
    if (explicit) throw new UsageError(`--password-stdin needs the password piped in (stdin is ${stdinKind() === 'tty' ? 'a terminal' : 'empty'})`, {hint: example})
    return undefined
  }
  const text = (await readAllStdin()).replace(/\r?\n$/, '')
  if (text === '' && explicit) throw new UsageError('--password-stdin: stdin was empty', {code: 'USAGE'})
  return text === '' ? undefined : text
}

export function membersTable(members: readonly Member[]): string {
  const rows = [['EMAIL', 'NAME', 'ROLE', 'USER ID', 'SINCE']]
  for (const m of members) rows.push([m.email ?? '-', m.name, m.role, m.userId, formatDate(m.since)])
  return formatTable(rows)
}

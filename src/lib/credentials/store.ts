import {readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {AuthError, UsageError} from '../core/errors.js'
import type {ResolvedContext} from '../context/contexts.js'
import {Env, configDir, ensureConfigDir, tightenDir, toJsonFile, writeFileAtomic} from '../context/files.js'

/**
 * Accounts in `<config dir>/credentials.json` (mode 0600 in a 0700 dir), grouped by gateway
 * origin so a token can only ever be sent to the origin that issued it (docs/SECURITY.md), like
 * `gh auth`: an origin may hold several accounts (the local admin of `lobu run`, logins, saved
 * tokens), and each context has one active account.
 *
 *   {version: 2, origins: {"<origin>": {accounts: [{token, tokenId, org, user, scopes, expiresAt, kind}]}},
 *    active: {"<context>": "<origin>#<user>@<org>"}}
 *
 * A version 1 file (`{version: 1, tokens: {"<origin>": {...}}}`) is migrated on first read.
 */
export interface StoredToken {
  token: string
  tokenId: string
  /** Org slug (or id) the token belongs to. */
  org: string
  /** User name (or id) the token belongs to. */
  user: string
  scopes: string[]
  /** ISO-8601, or null for a token that never expires. */
  expiresAt: string | null
}

/** `local-admin`: minted by `lobu run` for itself; `login`: `lobu oauth login`; `token`: `lobu token create --save-as`. */
export type AccountKind = 'local-admin' | 'login' | 'token'

export interface StoredAccount extends StoredToken {
  kind: AccountKind
}

interface CredentialsFile {
  version: 2
  origins: Record<string, {accounts: StoredAccount[]}>
  /** Context name → `<origin>#<user>@<org>`. */
  active: Record<string, string>
}

const KINDS: readonly AccountKind[] = ['local-admin', 'login', 'token']

export function credentialsPath(env: Env = process.env): string {
  return join(configDir(env), 'credentials.json')
}

/** `scheme://host[:port]` of a URL or origin; the key of credentials.json. */
export function originOf(urlOrOrigin: string): string {
  if (!URL.canParse(urlOrOrigin)) throw new UsageError(`invalid gateway URL "${urlOrOrigin}"`, {code: 'INVALID_URL'})
  return new URL(urlOrOrigin).origin
}

/** `<user>@<org>`: how an account is named (`lobu auth switch ACCOUNT`). */
export function accountName(account: Pick<StoredToken, 'user' | 'org'>): string {
  return `${account.user || '?'}@${account.org || '?'}`
}

function accountRef(origin: string, account: Pick<StoredToken, 'user' | 'org'>): string {
  return `${origin}#${accountName(account)}`
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

function isLoopbackOrigin(origin: string): boolean {
  const host = URL.canParse(origin) ? new URL(origin).hostname : ''
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.')
}

function parseAccount(value: unknown, kind?: AccountKind): StoredAccount | undefined {
  const e = value as Record<string, unknown> | null
  if (!e || typeof e.token !== 'string' || e.token === '') return undefined
  return {
    token: e.token,
    tokenId: str(e.tokenId),
    org: str(e.org),
    user: str(e.user),
    scopes: Array.isArray(e.scopes) ? e.scopes.filter((s): s is string => typeof s === 'string') : [],
    expiresAt: typeof e.expiresAt === 'string' ? e.expiresAt : null,
    kind: kind ?? (KINDS.includes(e.kind as AccountKind) ? (e.kind as AccountKind) : 'login'),
  }
}

/** Read (and, for a version 1 file, migrate and rewrite) credentials.json. */
function readCredentials(env: Env): CredentialsFile {
  const path = credentialsPath(env)
  const file: CredentialsFile = {version: 2, origins: {}, active: {}}
  let mode: number
  try {
    mode = statSync(path).mode
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return file
    throw error
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new AuthError('credentials.json is readable by other users', {
      code: 'CREDENTIALS_INSECURE',
      hint: `chmod 600 ${path}`,
    })
  }
  let raw: Record<string, unknown> | null
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> | null
  } catch {
    throw new AuthError(`${path} is not valid JSON`, {
      code: 'CREDENTIALS_CORRUPT',
      hint: `Delete it and log in again (lobu run, or lobu oauth login)`,
    })
  }
  if (raw?.version === 2) {
    const origins = raw.origins && typeof raw.origins === 'object' ? (raw.origins as Record<string, unknown>) : {}
    for (const [origin, value] of Object.entries(origins)) {
      const list = (value as {accounts?: unknown} | null)?.accounts
      const accounts = Array.isArray(list) ? list.map((a) => parseAccount(a)).filter((a): a is StoredAccount => a !== undefined) : []
      if (accounts.length > 0) file.origins[origin] = {accounts}
    }
    const active = raw.active && typeof raw.active === 'object' ? (raw.active as Record<string, unknown>) : {}
    for (const [ctx, ref] of Object.entries(active)) if (typeof ref === 'string') file.active[ctx] = ref
    return file
  }
  // Version 1: one token per origin. The token `lobu run` stored for itself (a loopback origin,
  // org "local") becomes the local admin account; any other becomes a login.
  const tokens = raw?.tokens
  if (tokens && typeof tokens === 'object') {
    for (const [origin, value] of Object.entries(tokens as Record<string, unknown>)) {
      const org = str((value as {org?: unknown} | null)?.org)
      const account = parseAccount(value, isLoopbackOrigin(origin) && org === 'local' ? 'local-admin' : 'login')
      if (account) file.origins[origin] = {accounts: [account]}
    }
  }
  writeCredentials(file, env)
  return file
}

function writeCredentials(file: CredentialsFile, env: Env): void {
  const dir = ensureConfigDir(env)
  tightenDir(dir)
  writeFileAtomic(credentialsPath(env), toJsonFile(file), 0o600)
}

function accountsOf(file: CredentialsFile, origin: string): StoredAccount[] {
  return file.origins[origin]?.accounts ?? []
}

/**
 * The account a context uses on an origin: the one `active` names for it (when it still exists
 * on that origin), else the local admin account, else the latest login or saved token.
 */
function pickAccount(file: CredentialsFile, origin: string, context?: string): StoredAccount | undefined {
  const accounts = accountsOf(file, origin)
  if (accounts.length === 0) return undefined
  const ref = context === undefined ? undefined : file.active[context]
  if (ref !== undefined) {
    const chosen = accounts.find((a) => accountRef(origin, a) === ref)
    if (chosen) return chosen
  }
  // Without a choice of its own, a context keeps the account it had before any login added
  // another: the local admin account of `lobu run` when there is one.
  const admin = accounts.find((a) => a.kind === 'local-admin')
  if (admin) return admin
  const others = accounts.filter((a) => a.kind !== 'local-admin')
  return others.at(-1) ?? accounts[0]
}

/**
 * The token stored for a gateway origin (a full URL is reduced to its origin): the active account
 * of `context` when given, else the local admin account, else the latest one.
 */
export function getStoredToken(origin: string, env: Env = process.env, context?: string): StoredAccount | undefined {
  return pickAccount(readCredentials(env), originOf(origin), context)
}

/** The local admin account `lobu run` keeps for the gateway it serves at this origin. */
export function getLocalAdmin(origin: string, env: Env = process.env): StoredAccount | undefined {
  return accountsOf(readCredentials(env), originOf(origin)).find((a) => a.kind === 'local-admin')
}

export interface SaveOptions {
  /** Default `login`. */
  kind?: AccountKind
  /** Make the account the active one of this context. */
  activate?: string
}

/**
 * Store an account for a gateway origin. It replaces only the account of the same user@org and
 * kind (a refreshed token); a login never replaces the local admin account of `lobu run`, and
 * the local admin account replaces only the previous local admin account of that origin.
 */
export function saveToken(origin: string, entry: StoredToken, env: Env = process.env, options: SaveOptions = {}): StoredAccount {
  if (typeof entry.token !== 'string' || entry.token === '') throw new TypeError('saveToken: empty token')
  const kind = options.kind ?? 'login'
  const key = originOf(origin)
  const file = readCredentials(env)
  const account: StoredAccount = {
    token: entry.token,
    tokenId: entry.tokenId ?? '',
    org: entry.org ?? '',
    user: entry.user ?? '',
    scopes: [...(entry.scopes ?? [])],
    expiresAt: entry.expiresAt ?? null,
    kind,
  }
  const accounts = accountsOf(file, key).filter((a) =>
    kind === 'local-admin' ? a.kind !== 'local-admin' : a.kind === 'local-admin' || accountName(a) !== accountName(account),
  )
  // A login as the local admin's own user@org keeps that account (same name, one entry per name).
  const shadowed = kind !== 'local-admin' && accounts.some((a) => a.kind === 'local-admin' && accountName(a) === accountName(account))
  if (!shadowed) accounts.push(account)
  file.origins[key] = {accounts}
  if (options.activate !== undefined) file.active[options.activate] = accountRef(key, account)
  writeCredentials(file, env)
  return account
}

/** Forget every account of a gateway origin; true when one was stored. */
export function forgetToken(origin: string, env: Env = process.env): boolean {
  const file = readCredentials(env)
  const key = originOf(origin)
  if (!(key in file.origins)) return false
  delete file.origins[key]
  for (const [ctx, ref] of Object.entries(file.active)) if (ref.startsWith(`${key}#`)) delete file.active[ctx]
  writeCredentials(file, env)
  return true
}

/** Forget one account (by token id, else by token) of an origin; true when it was stored. */
export function forgetAccount(origin: string, account: Pick<StoredToken, 'token'>, env: Env = process.env): boolean {
  const file = readCredentials(env)
  const key = originOf(origin)
  const accounts = accountsOf(file, key)
  const kept = accounts.filter((a) => a.token !== account.token)
  if (kept.length === accounts.length) return false
  if (kept.length > 0) file.origins[key] = {accounts: kept}
  else delete file.origins[key]
  const gone = new Set(accounts.filter((a) => !kept.includes(a)).map((a) => accountRef(key, a)))
  for (const [ctx, ref] of Object.entries(file.active)) if (gone.has(ref)) delete file.active[ctx]
  writeCredentials(file, env)
  return true
}

export interface OriginAccounts {
  origin: string
  accounts: Array<StoredAccount & {name: string}>
}

/** Every stored account, by origin. */
export function listAccounts(env: Env = process.env): OriginAccounts[] {
  const file = readCredentials(env)
  return Object.entries(file.origins).map(([origin, {accounts}]) => ({
    origin,
    accounts: accounts.map((a) => ({...a, name: accountName(a)})),
  }))
}

/** The account a context uses (see pickAccount), without LOBU_TOKEN. */
export function activeAccount(ctx: {name: string; origin: string}, env: Env = process.env): StoredAccount | undefined {
  return getStoredToken(ctx.origin, env, ctx.name)
}

/**
 * Make `name` (`user@org`, or a token id) the active account of a context on its origin. Unknown
 * → usage error listing the accounts of that origin.
 */
export function switchAccount(ctx: {name: string; origin: string}, name: string, env: Env = process.env): StoredAccount {
  const file = readCredentials(env)
  const key = originOf(ctx.origin)
  const accounts = accountsOf(file, key)
  const matches = accounts.filter((a) => accountName(a) === name || (a.tokenId !== '' && a.tokenId === name))
  if (matches.length !== 1) {
    const known = accounts.map((a) => accountName(a))
    throw new UsageError(`no account "${name}" for ${key}${known.length > 0 ? `; accounts there: ${known.join(', ')}` : ''}`, {
      code: 'UNKNOWN_ACCOUNT',
      hint: known.length > 0 ? `lobu auth switch -c ${ctx.name} ${known[0]}` : `Log in first: lobu oauth login -c ${ctx.name}`,
    })
  }
  file.active[ctx.name] = accountRef(key, matches[0]!)
  writeCredentials(file, env)
  return matches[0]!
}

export interface ContextToken {
  token: string
  source: 'env' | 'stored'
  /** The stored entry, when source is 'stored'. */
  stored?: StoredAccount
}

/**
 * The token to send to a context: `$LOBU_TOKEN` when set (it is only ever sent to the selected
 * context's origin), else the token of the context's active account on its origin.
 */
export function tokenForContext(ctx: Pick<ResolvedContext, 'origin'> & {name?: string}, env: Env = process.env): ContextToken | undefined {
  const fromEnv = env.LOBU_TOKEN
  if (fromEnv !== undefined && fromEnv.trim() !== '') return {token: fromEnv.trim(), source: 'env'}
  const stored = getStoredToken(ctx.origin, env, ctx.name)
  return stored ? {token: stored.token, source: 'stored', stored} : undefined
}

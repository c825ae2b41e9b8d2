import {readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {AuthError, UsageError} from '../core/errors.js'
import type {ResolvedContext} from '../context/contexts.js'
import {Env, configDir, ensureConfigDir, tightenDir, toJsonFile, writeFileAtomic} from '../context/files.js'

/**
 * Tokens in `<config dir>/credentials.json` (mode 0600 in a 0700 dir), keyed by gateway origin so
 * a token can only ever be sent to the origin that issued it (docs/SECURITY.md S2, S3).
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

interface CredentialsFile {
  version: 1
  tokens: Record<string, StoredToken>
}

export function credentialsPath(env: Env = process.env): string {
  return join(configDir(env), 'credentials.json')
}

/** `scheme://host[:port]` of a URL or origin; the key of credentials.json. */
export function originOf(urlOrOrigin: string): string {
  if (!URL.canParse(urlOrOrigin)) throw new UsageError(`invalid gateway URL "${urlOrOrigin}"`, {code: 'INVALID_URL'})
  return new URL(urlOrOrigin).origin
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

function readCredentials(env: Env): CredentialsFile {
  const path = credentialsPath(env)
  const file: CredentialsFile = {version: 1, tokens: {}}
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
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch {
    throw new AuthError(`${path} is not valid JSON`, {
      code: 'CREDENTIALS_CORRUPT',
      hint: `Delete it and log in again (lobu run, or lobu oauth login)`,
    })
  }
  const tokens = (raw as {tokens?: unknown} | null)?.tokens
  if (tokens && typeof tokens === 'object') {
    for (const [origin, value] of Object.entries(tokens as Record<string, unknown>)) {
      const e = value as Record<string, unknown> | null
      if (!e || typeof e.token !== 'string' || e.token === '') continue
      file.tokens[origin] = {
        token: e.token,
        tokenId: str(e.tokenId),
        org: str(e.org),
        user: str(e.user),
        scopes: Array.isArray(e.scopes) ? e.scopes.filter((s): s is string => typeof s === 'string') : [],
        expiresAt: typeof e.expiresAt === 'string' ? e.expiresAt : null,
      }
    }
  }
  return file
}

function writeCredentials(file: CredentialsFile, env: Env): void {
  const dir = ensureConfigDir(env)
  tightenDir(dir)
  writeFileAtomic(credentialsPath(env), toJsonFile(file), 0o600)
}

/** The token stored for a gateway origin (a full URL is reduced to its origin). */
export function getStoredToken(origin: string, env: Env = process.env): StoredToken | undefined {
  return readCredentials(env).tokens[originOf(origin)]
}

/** Store (or replace) the token of a gateway origin. */
export function saveToken(origin: string, entry: StoredToken, env: Env = process.env): void {
  if (typeof entry.token !== 'string' || entry.token === '') throw new TypeError('saveToken: empty token')
  const file = readCredentials(env)
  file.tokens[originOf(origin)] = {
    token: entry.token,
    tokenId: entry.tokenId ?? '',
    org: entry.org ?? '',
    user: entry.user ?? '',
    scopes: [...(entry.scopes ?? [])],
    expiresAt: entry.expiresAt ?? null,
  }
  writeCredentials(file, env)
}

/** Forget the token of a gateway origin; true when one was stored. */
export function forgetToken(origin: string, env: Env = process.env): boolean {
  const file = readCredentials(env)
  const key = originOf(origin)
  if (!(key in file.tokens)) return false
  delete file.tokens[key]
  writeCredentials(file, env)
  return true
}

export interface ContextToken {
  token: string
  source: 'env' | 'stored'
  /** The stored entry, when source is 'stored'. */
  stored?: StoredToken
}

/**
 * The token to send to a context: `$LOBU_TOKEN` when set (it is only ever sent to the selected
 * context's origin), else the token stored for the context's origin.
 */
export function tokenForContext(ctx: Pick<ResolvedContext, 'origin'>, env: Env = process.env): ContextToken | undefined {
  const fromEnv = env.LOBU_TOKEN
  if (fromEnv !== undefined && fromEnv.trim() !== '') return {token: fromEnv.trim(), source: 'env'}
  const stored = getStoredToken(ctx.origin, env)
  return stored ? {token: stored.token, source: 'stored', stored} : undefined
}

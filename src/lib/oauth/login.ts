/**
 * `lobu oauth login` / `logout` / `approve` as plain functions over options (the commands only
 * parse flags and render).
 *
 * Login stores the token under the gateway's origin in credentials.json (docs/SECURITY.md S2) and, with `--url`,
 * creates or updates the context. It refuses while LOBU_TOKEN is set (that token would shadow
 * the stored one), like `gh auth login` does with GH_TOKEN.
 */
import {AuthError, UsageError} from '../core/errors.js'
import {ApiClient} from '../client/api-client.js'
import {httpStatusOf} from '../client/errors.js'
import {listContexts, normalizeGatewayUrl, setContext, validateContextName, type ResolvedContext} from '../context/index.js'
import type {Env} from '../context/files.js'
import {forgetAccount, getStoredToken, saveToken} from '../credentials/store.js'
import {canOpenBrowser, openBrowser} from './browser.js'
import {CLI_CLIENT_ID, pollForToken, requestDeviceCode, type PollOptions, type PostForm} from './device.js'
import type {WhoamiResponse} from '../contract/api.js'

export interface LoginTarget {
  /** Context name. */
  name: string
  /** Gateway base URL. */
  url: string
  origin: string
  /** Write the context to config.json (a `--url` was given). */
  save: boolean
}

export interface LoginResult {
  context: string
  url: string
  user: string
  org: string
  tokenId: string
  scopes: string[]
  expiresAt: string | null
  /** The context was created or changed in config.json. */
  savedContext: boolean
}

/** Refuse while LOBU_TOKEN is set: it would win over whatever login stores. */
export function refuseWhileEnvToken(env: Env = process.env): void {
  if (env.LOBU_TOKEN !== undefined && env.LOBU_TOKEN.trim() !== '') {
    throw new UsageError('LOBU_TOKEN is set in the environment: it is used instead of any stored token', {
      code: 'ENV_TOKEN_SET',
      hint: 'To store a token with `lobu oauth login`, first unset LOBU_TOKEN; to keep using LOBU_TOKEN, no login is needed',
    })
  }
}

/** A context name for a URL without -c: its host (and port), e.g. `lobu.example.com`, `127.0.0.1-8787`. */
export function contextNameForUrl(url: string): string {
  const u = new URL(url)
  const name = (u.port ? `${u.hostname}-${u.port}` : u.hostname).replace(/^\[|\]$/g, '').replace(/[^a-zA-Z0-9_.-]+/g, '-')
  return /^[a-zA-Z0-9]/.test(name) ? name.slice(0, 63) : `gw-${name}`.slice(0, 63)
}

/**
 * Where `login --url URL [-c NAME]` logs in: NAME (created or re-pointed), else a context that
 * already has this URL, else a new one named after the host.
 */
export function loginTargetForUrl(url: string, contextFlag: string | undefined, env: Env = process.env): LoginTarget {
  const normalized = normalizeGatewayUrl(url)
  const origin = new URL(normalized).origin
  if (contextFlag) return {name: validateContextName(contextFlag), url: normalized, origin, save: true}
  const existing = listContexts({env}).find((c) => c.url === normalized)
  return {name: existing?.name ?? contextNameForUrl(normalized), url: normalized, origin, save: !existing}
}

export function loginTargetForContext(ctx: Pick<ResolvedContext, 'name' | 'url' | 'origin'>): LoginTarget {
  return {name: ctx.name, url: ctx.url, origin: ctx.origin, save: false}
}

async function describeToken(target: LoginTarget, token: string, userAgent?: string): Promise<WhoamiResponse> {
  const client = new ApiClient({baseUrl: target.url, token, tokenOrigin: target.origin, contextName: target.name, userAgent})
  return client.get<WhoamiResponse>('/api/v1/whoami')
}

function store(target: LoginTarget, token: string, me: WhoamiResponse, env: Env): LoginResult {
  const entry = {
    token,
    tokenId: me.token.id,
    org: me.org.slug,
    user: me.user.name,
    scopes: me.token.scopes,
    expiresAt: me.token.expiresAt,
  }
  if (target.save) setContext(target.name, target.url, env)
  // A login adds an account (or refreshes the same user@org) and makes it this context's active one.
  saveToken(target.origin, entry, env, {kind: 'login', activate: target.name})
  return {context: target.name, url: target.url, user: entry.user, org: entry.org, tokenId: entry.tokenId, scopes: entry.scopes, expiresAt: entry.expiresAt, savedContext: target.save}
}

export interface DeviceLoginOptions {
  target: LoginTarget
  scopes?: readonly string[]
  /** --browser / --no-browser. */
  browser: boolean
  /** Progress for stderr. */
  note: (line: string) => void
  env?: Env
  signal?: AbortSignal
  userAgent?: string
  /** Injectable for tests. */
  post?: PostForm
  sleep?: PollOptions['sleep']
  open?: (url: string) => Promise<boolean>
  canOpen?: () => boolean
}

/** The device flow: code, URL (and browser), poll, verify with whoami, store. */
export async function deviceLogin(opts: DeviceLoginOptions): Promise<LoginResult> {
  const env = opts.env ?? process.env
  refuseWhileEnvToken(env)
  const {target} = opts
  const code = await requestDeviceCode(target.url, {clientId: CLI_CLIENT_ID, scopes: opts.scopes, post: opts.post})
  const link = code.verification_uri_complete ?? code.verification_uri
  opts.note(`First copy your one-time code: ${code.user_code}`)
  opts.note(`Then open ${link} to approve this login to ${target.url} (it expires in ${Math.round(code.expires_in / 60)} minutes).`)
  if (opts.browser && (opts.canOpen ?? (() => canOpenBrowser({env: env as NodeJS.ProcessEnv})))()) {
    const opened = await (opts.open ?? openBrowser)(link)
    if (opened) opts.note('Opened your browser.')
  }
  opts.note('Waiting for approval… (Ctrl-C to cancel)')
  const token = await pollForToken({
    baseUrl: target.url,
    code,
    signal: opts.signal,
    post: opts.post,
    sleep: opts.sleep,
    onSlowDown: (seconds) => opts.note(`The gateway asked to poll less often: every ${seconds} s now.`),
  })
  const me = await describeToken(target, token.access_token, opts.userAgent)
  return store(target, token.access_token, me, env)
}

/** `--with-token`: verify the token with whoami (401 → exit 3), then store it. */
export async function tokenLogin(opts: {target: LoginTarget; token: string; env?: Env; userAgent?: string}): Promise<LoginResult> {
  const env = opts.env ?? process.env
  refuseWhileEnvToken(env)
  const token = opts.token.trim()
  if (token === '') throw new UsageError('no token on stdin', {code: 'NO_TOKEN_INPUT', hint: 'Pipe it in: lobu oauth login --with-token < token.txt'})
  if (!/^lobu_pat_[0-9A-Za-z]{43}$/.test(token)) {
    throw new UsageError('that is not a Lobu token (expected lobu_pat_ followed by 43 letters and digits)', {code: 'INVALID_TOKEN_FORMAT', hint: 'Create one with `lobu token create`'})
  }
  let me: WhoamiResponse
  try {
    me = await describeToken(opts.target, token, opts.userAgent)
  } catch (err) {
    if (httpStatusOf(err) === 401) {
      throw new AuthError(`the gateway at ${opts.target.url} rejected this token`, {code: 'UNAUTHENTICATED', hint: 'It may be revoked, expired, or issued by another gateway: create a new one with `lobu token create`'})
    }
    throw err
  }
  return store(opts.target, token, me, env)
}

export interface LogoutResult {
  context: string
  url: string
  /** The token was revoked on the gateway. */
  revoked: boolean
  /** A stored token was forgotten. */
  forgot: boolean
  tokenId: string | null
}

/**
 * Revoke the stored token of the context's origin on the gateway (with that token itself) and
 * forget it. An unreachable gateway or a refused revocation still forgets it, with a warning.
 */
export async function logout(opts: {ctx: Pick<ResolvedContext, 'name' | 'url' | 'origin'>; warn: (line: string) => void; env?: Env; userAgent?: string}): Promise<LogoutResult> {
  const env = opts.env ?? process.env
  const {ctx} = opts
  const stored = getStoredToken(ctx.origin, env, ctx.name)
  const base = {context: ctx.name, url: ctx.url}
  if (!stored) return {...base, revoked: false, forgot: false, tokenId: null}

  const client = new ApiClient({baseUrl: ctx.url, token: stored.token, tokenOrigin: ctx.origin, contextName: ctx.name, userAgent: opts.userAgent})
  let revoked = false
  let tokenId = stored.tokenId || null
  try {
    if (!tokenId) tokenId = (await client.get<WhoamiResponse>('/api/v1/whoami')).token.id
    if (tokenId) {
      await client.delete(`/api/v1/tokens/${encodeURIComponent(tokenId)}`)
      revoked = true
    }
  } catch (err) {
    const status = httpStatusOf(err)
    if (status === 401 || status === 404) {
      // Already revoked or expired: nothing left to revoke.
    } else if (status === 403) {
      opts.warn(`Warning: this token cannot revoke itself (it lacks the tokens:write scope); revoke ${tokenId ?? 'it'} with \`lobu token revoke\` from a token that can`)
    } else {
      opts.warn(`Warning: could not revoke the token on ${ctx.url} (${err instanceof Error ? err.message : String(err)}); it was only forgotten here${tokenId ? `: revoke ${tokenId} later with \`lobu token revoke ${tokenId}\`` : ''}`)
    }
  }
  const forgot = forgetAccount(ctx.origin, stored, env)
  return {...base, revoked, forgot, tokenId}
}

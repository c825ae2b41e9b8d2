/**
 * Users' own credentials for an agent ("account connections"):
 *
 * - MCP OAuth grants: `startConnect` begins an authorization-code + PKCE (S256) flow for an MCP
 *   server of the agent that has an `oauth` table; `completeCallback` takes the single-use state
 *   (bound to org, user, agent, target; 10-minute expiry), exchanges the code at the token URL
 *   of the agent's STORED config (docs/SECURITY.md S10) and stores the tokens encrypted (docs/SECURITY.md S6).
 * - Provider API keys (BYOK): `saveProviderKey`; `findUserProviderKey` is what the credential
 *   resolution of a turn calls (the user's key wins over declared and system keys, for them only).
 * - Access tokens on use: `accessToken` refreshes lazily within REFRESH_SKEW of expiry;
 *   `refreshDue` is the periodic job; a refused refresh marks the grant `needs_reauth`.
 *
 * Every grant query takes the caller's org and user (docs/SECURITY.md S4). Tokens never leave this module except
 * as the access token of `accessToken` / `connectionToken`.
 */
import type {ConnectStart, ConnectionView} from '../../contract/api.js'
import {agentNotAccessible} from '../agents/service.js'
import type {AuthContext} from '../auth/authenticate.js'
import {decryptSecret, encryptSecret} from '../crypto/index.js'
import {HttpError, badRequest, forbidden, notFound} from '../http/errors.js'
import type {Lifecycle, Logger} from '../http/types.js'
import {oauthRepo, type GrantKey, type GrantOwner, type GrantRow} from '../store/repos/oauth.js'
import type {AgentRow, McpOAuthSpec, Store} from '../store/types.js'
import {pkceChallenge, randomSecret, sha256Hex} from './codes.js'
import type {EgressPolicy} from '../egress/index.js'
import {ProviderTokenError, exchangeCode, refreshTokens, type ClientCredentials} from './provider-client.js'

export const STATE_TTL_SECONDS = 600
/** A grant this close to expiry is refreshed before use. */
export const REFRESH_SKEW_MS = 60_000
/** How long one refresh may hold a grant's lease. */
const LEASE_MS = 30_000


export type {ConnectionView}

/** A user's own key for a provider of an agent, in the shape the credential resolution takes. */
export interface UserProviderKey {
  providerId: string
  apiKey: string
  expiresAt: null
  refreshable: false
}

/** Why a grant's access token cannot be had. */
export class GrantUnavailableError extends Error {
  constructor(
    readonly reason: 'not_found' | 'needs_reauth' | 'refresh_failed',
    message: string,
  ) {
    super(message)
    this.name = 'GrantUnavailableError'
  }
}

/** A failed callback: the page shows the message with this status. */
export class CallbackError extends Error {
  constructor(
    readonly status: 400 | 502,
    message: string,
  ) {
    super(message)
    this.name = 'CallbackError'
  }
}

export interface GrantServiceOptions {
  store: Store
  installKey: Buffer
  log?: Logger
  now?: () => Date
  /** The guard of the token endpoint (an agent's `tokenUrl` is a tenant's choice); default unguarded. */
  egress?: EgressPolicy
}

/** Additional authenticated data of a grant's ciphertexts: a ciphertext only decrypts in its own row. */
function grantAad(key: GrantKey, field: 'access' | 'refresh'): string {
  return `oauth-grant/${key.orgId}/${key.userId}/${key.agentId}/${key.kind}/${key.target}/${field}`
}

function stateAad(stateHash: string): string {
  return `oauth-state/${stateHash}`
}

function keyOf(row: GrantRow): GrantKey {
  return {orgId: row.orgId, userId: row.userId, agentId: row.agentId, kind: row.kind, target: row.target}
}

export function toConnectionView(row: GrantRow): ConnectionView {
  return {
    id: row.id,
    agentId: row.agentId,
    target: row.target,
    kind: row.kind,
    status: row.status,
    scopes: row.scopes,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The caller's own API key for a provider of an agent, or undefined. Wired into the credential
 * resolution of turns (sessions/credentials.ts `userGrantFor`).
 */
export async function findUserProviderKey(
  store: Pick<Store, 'sql'>,
  installKey: Buffer,
  lookup: {orgId: string; userId: string; agentId: string; providerId: string},
): Promise<UserProviderKey | undefined> {
  const key: GrantKey = {orgId: lookup.orgId, userId: lookup.userId, agentId: lookup.agentId, kind: 'provider', target: lookup.providerId}
  const row = await oauthRepo(store.sql).getGrant(key)
  if (!row || row.status !== 'active') return undefined
  try {
    const apiKey = decryptSecret(installKey, row.accessToken, grantAad(key, 'access'))
    return apiKey ? {providerId: lookup.providerId, apiKey, expiresAt: null, refreshable: false} : undefined
  } catch {
    return undefined
  }
}

export class GrantService {
  readonly #store: Store
  readonly #key: Buffer
  readonly #log: Logger
  readonly #now: () => Date
  readonly #egress: EgressPolicy | undefined
  readonly #inflight = new Map<string, Promise<GrantRow>>()

  constructor(opts: GrantServiceOptions) {
    this.#store = opts.store
    this.#key = opts.installKey
    this.#log = opts.log ?? (() => {})
    this.#now = opts.now ?? (() => new Date())
    this.#egress = opts.egress
  }

  // ---------- connect (authorization code + PKCE) ----------

  async startConnect(owner: GrantOwner, input: {agentId: string; target: string}, baseUrl: string): Promise<ConnectStart> {
    const agent = await this.#store.agents.get(owner.orgId, input.agentId)
    if (!agent) throw agentNotAccessible(input.agentId)
    const oauth = oauthTarget(agent, input.target)
    const now = this.#now()
    const state = randomSecret()
    const verifier = randomSecret()
    const stateHash = sha256Hex(state)
    const expiresAt = new Date(now.getTime() + STATE_TTL_SECONDS * 1000)
    const redirectUri = `${baseUrl}/oauth/callback`
    const repo = oauthRepo(this.#store.sql)
    await repo.pruneStates(now)
    await repo.insertState({
      stateHash,
      orgId: owner.orgId,
      userId: owner.userId,
      agentId: agent.agentId,
      target: input.target,
      codeVerifier: encryptSecret(this.#key, verifier, stateAad(stateHash)),
      redirectUri,
      expiresAt,
    })
    const url = new URL(oauth.authUrl)
    url.searchParams.set('response_type', 'code')
    if (oauth.clientId) url.searchParams.set('client_id', oauth.clientId)
    url.searchParams.set('redirect_uri', redirectUri)
    if (oauth.scopes && oauth.scopes.length > 0) url.searchParams.set('scope', oauth.scopes.join(' '))
    url.searchParams.set('state', state)
    url.searchParams.set('code_challenge', pkceChallenge(verifier))
    url.searchParams.set('code_challenge_method', 'S256')
    return {authorizeUrl: url.toString(), state, expiresAt: expiresAt.toISOString()}
  }

  /**
   * `GET /oauth/callback`: only `state` and `code` (or the provider's `error`) are read from the
   * request. A replayed, unknown or expired state is a 400 and nothing is stored.
   */
  async completeCallback(query: {state?: string; code?: string; error?: string}): Promise<{agentId: string; target: string}> {
    const {state, code} = query
    if (!state || state.length > 512) throw new CallbackError(400, 'This link is missing its state or it is malformed. Start again with `lobu oauth connect`.')
    const now = this.#now()
    const stateHash = sha256Hex(state)
    const row = await oauthRepo(this.#store.sql).takeState(stateHash)
    if (!row) throw new CallbackError(400, 'This authorization is unknown, was already used or has expired. Start again with `lobu oauth connect`.')
    if (row.expiresAt.getTime() <= now.getTime()) throw new CallbackError(400, 'This authorization has expired (10 minutes). Start again with `lobu oauth connect`.')
    if (query.error !== undefined) {
      const reason = /^[A-Za-z0-9_.-]{1,64}$/.test(query.error) ? query.error : 'an error'
      throw new CallbackError(400, `The provider did not authorize the connection (${reason}). Start again with \`lobu oauth connect\` if you want to retry.`)
    }
    if (!code || code.length > 4096) throw new CallbackError(400, 'The provider sent no authorization code. Start again with `lobu oauth connect`.')

    const agent = await this.#store.agents.get(row.orgId, row.agentId)
    const oauth = agent?.spec.mcp?.[row.target]?.oauth
    if (!agent || !oauth) throw new CallbackError(400, `Agent "${row.agentId}" no longer declares OAuth for "${row.target}".`)
    let verifier: string
    try {
      verifier = decryptSecret(this.#key, row.codeVerifier, stateAad(stateHash))
    } catch {
      throw new CallbackError(400, 'This authorization cannot be completed. Start again with `lobu oauth connect`.')
    }
    let tokens
    try {
      tokens = await exchangeCode(oauth.tokenUrl, {code, redirectUri: row.redirectUri, codeVerifier: verifier}, await this.#client(row.orgId, oauth), now, this.#egress)
    } catch (err) {
      if (err instanceof ProviderTokenError) throw new CallbackError(502, `Could not finish the connection: ${err.message}.`)
      throw err
    }
    const key: GrantKey = {orgId: row.orgId, userId: row.userId, agentId: row.agentId, kind: 'mcp', target: row.target}
    await oauthRepo(this.#store.sql).upsertGrant({
      ...key,
      accessToken: encryptSecret(this.#key, tokens.accessToken, grantAad(key, 'access')),
      refreshToken: tokens.refreshToken ? encryptSecret(this.#key, tokens.refreshToken, grantAad(key, 'refresh')) : null,
      scopes: tokens.scopes ?? oauth.scopes ?? [],
      expiresAt: tokens.expiresAt,
    })
    return {agentId: row.agentId, target: row.target}
  }

  // ---------- list, delete, BYOK ----------

  async list(owner: GrantOwner, agentId?: string): Promise<ConnectionView[]> {
    return (await oauthRepo(this.#store.sql).listGrants(owner, agentId)).map(toConnectionView)
  }

  async delete(owner: GrantOwner, id: string): Promise<{id: string; deleted: true}> {
    const row = id.length <= 100 ? await oauthRepo(this.#store.sql).deleteGrant(owner, id) : undefined
    if (!row) throw notFound('connection not found', 'list your connections with `lobu oauth status`')
    return {id, deleted: true}
  }

  async saveProviderKey(owner: GrantOwner, input: {agentId: string; providerId: string; key: string}): Promise<ConnectionView> {
    const agent = await this.#store.agents.get(owner.orgId, input.agentId)
    if (!agent) throw agentNotAccessible(input.agentId)
    const declared = (agent.spec.providers ?? []).map((p) => p.id)
    if (!declared.includes(input.providerId)) {
      throw badRequest(
        'UNKNOWN_PROVIDER',
        `agent "${agent.agentId}" has no provider "${input.providerId}"${declared.length > 0 ? ` (it uses: ${[...new Set(declared)].join(', ')})` : ''}`,
        'a key is kept for one of the agent\'s providers: declare it in lobu.toml and apply, or pick another agent with --agent',
      )
    }
    const key: GrantKey = {orgId: owner.orgId, userId: owner.userId, agentId: agent.agentId, kind: 'provider', target: input.providerId}
    const row = await oauthRepo(this.#store.sql).upsertGrant({
      ...key,
      accessToken: encryptSecret(this.#key, input.key, grantAad(key, 'access')),
      refreshToken: null,
      scopes: [],
      expiresAt: null,
    })
    return toConnectionView(row)
  }

  // ---------- access tokens and refresh ----------

  /** A usable access token of an MCP grant, refreshed first when it expires within a minute. */
  async accessToken(key: GrantKey): Promise<{accessToken: string; expiresAt: Date | null; grant: GrantRow}> {
    let row = await oauthRepo(this.#store.sql).getGrant(key)
    if (!row) throw new GrantUnavailableError('not_found', 'no such connection')
    if (row.status === 'needs_reauth') throw needsReauth(row)
    if (this.#dueForRefresh(row)) row = await this.refresh(row)
    return {accessToken: decryptSecret(this.#key, row.accessToken, grantAad(keyOf(row), 'access')), expiresAt: row.expiresAt, grant: row}
  }

  #dueForRefresh(row: GrantRow, skewMs = REFRESH_SKEW_MS): boolean {
    return row.kind === 'mcp' && row.expiresAt !== null && row.expiresAt.getTime() - this.#now().getTime() <= skewMs
  }

  /**
   * Refresh one grant when it expires within `skewMs`: one refresh at a time per grant in this
   * process, and a lease in the database across gateway instances.
   */
  refresh(row: GrantRow, skewMs = REFRESH_SKEW_MS): Promise<GrantRow> {
    let pending = this.#inflight.get(row.id)
    if (!pending) {
      pending = this.#refresh(row, skewMs).finally(() => this.#inflight.delete(row.id))
      this.#inflight.set(row.id, pending)
    }
    return pending
  }

  async #refresh(stale: GrantRow, skewMs = REFRESH_SKEW_MS): Promise<GrantRow> {
    const repo = oauthRepo(this.#store.sql)
    const owner = {orgId: stale.orgId, userId: stale.userId}
    const now = this.#now()
    if (!(await repo.claimRefresh(stale.id, now, new Date(now.getTime() + LEASE_MS)))) return this.#awaitOtherRefresh(stale)
    let released = false
    try {
      const row = await repo.getGrantById(owner, stale.id)
      if (!row) throw new GrantUnavailableError('not_found', 'no such connection')
      if (row.status === 'needs_reauth') throw needsReauth(row)
      if (!this.#dueForRefresh(row, skewMs)) return row
      if (!row.refreshToken) {
        if (row.expiresAt && row.expiresAt.getTime() > now.getTime()) return row
        await repo.markNeedsReauth(row.id, 'expired without a refresh token')
        released = true
        throw needsReauth(row)
      }
      const agent = await this.#store.agents.get(row.orgId, row.agentId)
      const oauth = agent?.spec.mcp?.[row.target]?.oauth
      if (!oauth) {
        await repo.markNeedsReauth(row.id, 'the agent no longer declares OAuth for this target')
        released = true
        throw needsReauth(row)
      }
      const key = keyOf(row)
      const refreshToken = decryptSecret(this.#key, row.refreshToken, grantAad(key, 'refresh'))
      let tokens
      try {
        tokens = await refreshTokens(oauth.tokenUrl, refreshToken, await this.#client(row.orgId, oauth), now, this.#egress)
      } catch (err) {
        if (!(err instanceof ProviderTokenError)) throw err
        if (err.refused) {
          await repo.markNeedsReauth(row.id, err.message)
          released = true
          this.#log('warn', `oauth: refresh of connection ${row.id} (${row.agentId}/${row.target}) was refused; it needs a new \`lobu oauth connect\``)
          throw needsReauth(row)
        }
        await repo.releaseRefresh(row.id, err.message)
        released = true
        if (row.expiresAt && row.expiresAt.getTime() > now.getTime()) return row
        throw new GrantUnavailableError('refresh_failed', `could not refresh the connection "${row.target}": ${err.message}`)
      }
      const saved = await repo.saveRefreshed(
        row.id,
        {
          accessToken: encryptSecret(this.#key, tokens.accessToken, grantAad(key, 'access')),
          refreshToken: tokens.refreshToken === undefined ? undefined : encryptSecret(this.#key, tokens.refreshToken, grantAad(key, 'refresh')),
          scopes: tokens.scopes ?? row.scopes,
          expiresAt: tokens.expiresAt,
        },
        now,
      )
      released = true
      if (!saved) throw new GrantUnavailableError('not_found', 'no such connection')
      return saved
    } finally {
      if (!released) await repo.releaseRefresh(stale.id, null).catch(() => {})
    }
  }

  /** Another process holds the lease: wait for it to finish (at most the lease time). */
  async #awaitOtherRefresh(stale: GrantRow): Promise<GrantRow> {
    const repo = oauthRepo(this.#store.sql)
    const deadline = Date.now() + LEASE_MS
    while (Date.now() < deadline) {
      await sleep(200)
      const row = await repo.getGrantById({orgId: stale.orgId, userId: stale.userId}, stale.id)
      if (!row) throw new GrantUnavailableError('not_found', 'no such connection')
      if (row.status === 'needs_reauth') throw needsReauth(row)
      const leased = row.refreshLeaseUntil !== null && row.refreshLeaseUntil.getTime() > this.#now().getTime()
      if (leased) continue
      // The other holder is done: its result, or (after a transient failure) the old token while it lasts.
      if (!row.expiresAt || row.expiresAt.getTime() > this.#now().getTime()) return row
      break
    }
    throw new GrantUnavailableError('refresh_failed', `the connection "${stale.target}" is being refreshed elsewhere; retry in a moment`)
  }

  /** The periodic job: refresh every active MCP grant expiring within `lookaheadMs`. */
  async refreshDue(lookaheadMs = 5 * 60_000, limit = 100): Promise<{refreshed: number; failed: number}> {
    const due = await oauthRepo(this.#store.sql).listDueForRefresh(new Date(this.#now().getTime() + lookaheadMs), limit)
    let refreshed = 0
    let failed = 0
    for (const row of due) {
      try {
        await this.refresh(row, lookaheadMs)
        refreshed++
      } catch (err) {
        failed++
        this.#log('debug', `oauth: refresh of connection ${row.id} failed: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    return {refreshed, failed}
  }

  // ---------- managed connection tokens ----------

  /**
   * `POST /oauth/connection-token`: the access token of one of the caller's own connections in
   * the token's org, refreshed when needed. Only `{access_token, expires_at}` ever leaves.
   */
  async connectionToken(auth: AuthContext, input: {org: string; connector: string}): Promise<{access_token: string; expires_at: string | null}> {
    if (input.org !== auth.org.slug && input.org !== auth.org.id) {
      throw forbidden(`this token is not a member of organization "${input.org}"`, 'use a token of that organization')
    }
    const owner = {orgId: auth.org.id, userId: auth.user.id}
    const grants = (await oauthRepo(this.#store.sql).listGrants(owner)).filter((g) => g.kind === 'mcp')
    const connector = input.connector
    let matches = grants.filter((g) => g.id === connector)
    if (matches.length === 0) matches = grants.filter((g) => `${g.agentId}/${g.target}` === connector)
    if (matches.length === 0) matches = grants.filter((g) => g.target === connector)
    if (matches.length === 0) throw notFound(`no connection "${connector}" of yours in this organization`, 'connect it with `lobu oauth connect ID --agent A`; list yours with `lobu oauth status`')
    if (matches.length > 1) {
      throw badRequest('AMBIGUOUS_CONNECTOR', `"${connector}" names connections of several agents (${matches.map((g) => g.agentId).join(', ')})`, `use AGENT/${connector} or the connection id`)
    }
    try {
      const {accessToken, expiresAt} = await this.accessToken(keyOf(matches[0]!))
      return {access_token: accessToken, expires_at: expiresAt?.toISOString() ?? null}
    } catch (err) {
      throw grantHttpError(err)
    }
  }

  async #client(orgId: string, oauth: McpOAuthSpec): Promise<ClientCredentials> {
    const client: ClientCredentials = {clientId: oauth.clientId}
    if (oauth.clientSecretRef) {
      const secret = await this.#store.secrets.get(orgId, oauth.clientSecretRef)
      if (secret) client.clientSecret = decryptSecret(this.#key, secret.ciphertext)
    }
    return client
  }
}

function needsReauth(row: GrantRow): GrantUnavailableError {
  return new GrantUnavailableError('needs_reauth', `the connection "${row.target}" of agent "${row.agentId}" needs to be authorized again`)
}

/** Map a GrantUnavailableError to the HTTP answer of the API. */
export function grantHttpError(err: unknown): unknown {
  if (!(err instanceof GrantUnavailableError)) return err
  if (err.reason === 'not_found') return notFound('connection not found', 'list your connections with `lobu oauth status`')
  if (err.reason === 'needs_reauth') return new HttpError(409, 'NEEDS_REAUTH', err.message, 'connect it again with `lobu oauth connect ID --agent A`')
  return new HttpError(502, 'REFRESH_FAILED', err.message, 'retry in a moment')
}

/** The oauth table of the agent's MCP server `target`, or a 400 saying what can be connected. */
function oauthTarget(agent: AgentRow, target: string): McpOAuthSpec {
  const mcp = agent.spec.mcp ?? {}
  const oauth = Object.hasOwn(mcp, target) ? mcp[target]?.oauth : undefined
  if (oauth) return oauth
  const connectable = Object.entries(mcp)
    .filter(([, m]) => m.oauth)
    .map(([id]) => id)
  const list = connectable.length > 0 ? `; OAuth-enabled MCP servers of this agent: ${connectable.join(', ')}` : ''
  if (Object.hasOwn(mcp, target)) {
    throw badRequest('NOT_OAUTH_TARGET', `MCP server "${target}" of agent "${agent.agentId}" has no oauth table${list}`, `declare skills.mcp.${target}.oauth in lobu.toml and apply`)
  }
  if ((agent.spec.providers ?? []).some((p) => p.id === target)) {
    throw badRequest('NOT_OAUTH_TARGET', `"${target}" is a provider of agent "${agent.agentId}": providers take your own API key`, `lobu oauth connect ${target} --with-key --agent ${agent.agentId} (the key is read from stdin)`)
  }
  throw badRequest('NOT_OAUTH_TARGET', `agent "${agent.agentId}" has no MCP server "${target}"${list}`, 'connections are for MCP servers with an oauth table (skills.mcp.ID.oauth in lobu.toml); pick the agent with --agent')
}

export interface RefreshJobOptions {
  /** Period of the background refresh job (default 60 s; 0 disables it). */
  refreshIntervalMs?: number
  /** The job refreshes grants expiring within this window (default 5 minutes). */
  refreshLookaheadMs?: number
}

/** The background refresh job, stopped (and awaited) at gateway shutdown. */
export function startRefreshJob(grants: GrantService, lifecycle: Lifecycle, log: Logger, options: RefreshJobOptions): void {
  const every = options.refreshIntervalMs ?? 60_000
  if (every <= 0) return
  let running: Promise<unknown> | undefined
  const timer = setInterval(() => {
    if (running || lifecycle.signal.aborted) return
    running = grants
      .refreshDue(options.refreshLookaheadMs)
      .catch((err) => log('warn', `oauth: refresh job failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => (running = undefined))
  }, every)
  timer.unref()
  lifecycle.onShutdown(async () => {
    clearInterval(timer)
    await running
  })
}

/**
 * The device authorization grant (RFC 8628) behind `lobu oauth login`.
 *
 * A CLI asks for a code pair (`create`), shows the user code and polls (`poll`). A person
 * approves on the `/device` page with email and password (`decideOnPage`) or with another token
 * (`approveWithToken`). Approval binds the code to (org, user); the next poll mints a PAT of that
 * user in that org with the requested scopes and consumes the code. Codes are stored hashed.
 */
import type {DeviceApproved, DeviceCodeResponse, DeviceTokenResponse} from '../../contract/api.js'
import {SCOPES, isScope, normalizeScopes, type Scope} from '../../contract/scopes.js'
import {hasScope, type AuthContext} from '../auth/authenticate.js'
import {verifyPassword, hashPassword} from '../auth/password.js'
import {DEFAULT_EXPIRES_IN, parseExpiresIn} from '../auth/expiry.js'
import {roleAllows} from '../auth/roles.js'
import {mintToken} from '../auth/token-service.js'
import {badRequest, forbidden} from '../http/errors.js'
import {oauthRepo, type DeviceCodeRow} from '../store/repos/oauth.js'
import type {OrgRow, Store, StoreTx, UserRow} from '../store/types.js'
import {formatUserCode, newUserCode, normalizeUserCode, randomSecret, sha256Hex, userCodeHash} from './codes.js'
import {ADDRESS_ATTEMPTS, CODE_ATTEMPTS, EMAIL_ATTEMPTS, HashGate, HashGateBusy, clearAttempts, countAttempt, type Limit} from './limits.js'

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code'
export const DEFAULT_INTERVAL_SECONDS = 5
export const DEVICE_CODE_TTL_SECONDS = 600
export const SLOW_DOWN_STEP_SECONDS = 5
/** Scopes of a device login that asks for none: everything but `admin` and `connections:token`. */
export const DEVICE_DEFAULT_SCOPES: readonly Scope[] = ['agents:read', 'agents:write', 'chat', 'tokens:write', 'oauth']
/** At most this many device codes wait for approval at once (expired ones do not count). */
const MAX_PENDING_DEVICE_CODES = 10_000
/** A poll this much earlier than the interval still counts as on time (clock and network jitter). */
const POLL_TOLERANCE_MS = 250

const CLIENT_ID_PATTERN = /^[\x21-\x7e]{1,100}$/

export interface DeviceOptions {
  store: Store
  intervalSeconds?: number
  ttlSeconds?: number
  /** Lifetime of the minted tokens (default 90 days). */
  tokenExpiresIn?: string
  /** Count password attempts per client address too (a team gateway; a local one's clients are all loopback). */
  limitAddresses?: boolean
  /** The password-check gate (default: 2 at once, 8 waiting). */
  hashGate?: HashGate
  now?: () => Date
}

/** An RFC 6749 / 8628 error of the device or token endpoint. */
export class OAuthProtocolError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: 400 | 401 | 429 | 503 = 400,
    readonly retryAfterSeconds?: number,
  ) {
    super(description)
  }
}

export interface PendingRequest {
  userCode: string
  clientId: string
  scopes: string[]
  expiresAt: Date
}

/** What the device page shows after a POST. */
export type PageOutcome =
  | {kind: 'approved'; request: PendingRequest; org: string; user: string}
  | {kind: 'denied'; request: PendingRequest}
  | {kind: 'error'; status: 400 | 401 | 403 | 429 | 503; message: string; request?: PendingRequest; retryAfterSeconds?: number}

let dummyHash: Promise<string> | undefined

function parseRequestedScopes(raw: string | undefined): Scope[] {
  if (raw === undefined || raw.trim() === '') return [...DEVICE_DEFAULT_SCOPES]
  const parts = raw.split(/[\s,]+/).filter(Boolean)
  const unknown = parts.filter((s) => !isScope(s))
  if (unknown.length > 0) throw new OAuthProtocolError('invalid_scope', `unknown scope(s): ${unknown.join(', ')}; valid scopes: ${SCOPES.join(', ')}`)
  return normalizeScopes(parts as Scope[])
}

function pendingView(row: DeviceCodeRow, normalized: string): PendingRequest {
  return {userCode: formatUserCode(normalized), clientId: row.clientId, scopes: row.scopes, expiresAt: row.expiresAt}
}

export class DeviceService {
  readonly intervalSeconds: number
  readonly ttlSeconds: number
  readonly #store: Store
  readonly #now: () => Date
  readonly #tokenExpiresIn: string
  readonly #limitAddresses: boolean
  readonly #gate: HashGate

  constructor(opts: DeviceOptions) {
    this.#store = opts.store
    this.#limitAddresses = opts.limitAddresses ?? false
    this.#gate = opts.hashGate ?? new HashGate()
    this.intervalSeconds = opts.intervalSeconds ?? DEFAULT_INTERVAL_SECONDS
    this.ttlSeconds = opts.ttlSeconds ?? DEVICE_CODE_TTL_SECONDS
    this.#tokenExpiresIn = opts.tokenExpiresIn ?? DEFAULT_EXPIRES_IN
    this.#now = opts.now ?? (() => new Date())
  }

  /** `POST /oauth/device/code`. */
  /**
   * Per-address limit of an anonymous endpoint on a team gateway (a local gateway's clients are
   * all loopback): the seconds to wait when `address` is over `limit`, else undefined.
   */
  async overAddressLimit(address: string | undefined, limit: Limit): Promise<number | undefined> {
    if (!this.#limitAddresses || !address) return undefined
    const counted = await countAttempt(this.#store, limit, address, this.#now())
    return counted.ok ? undefined : counted.retryAfterSeconds
  }

  async create(input: {clientId?: string; scope?: string}, baseUrl: string): Promise<DeviceCodeResponse> {
    const clientId = input.clientId?.trim()
    if (!clientId) throw new OAuthProtocolError('invalid_request', 'client_id is required')
    if (!CLIENT_ID_PATTERN.test(clientId)) throw new OAuthProtocolError('invalid_request', 'client_id must be 1–100 printable ASCII characters')
    const scopes = parseRequestedScopes(input.scope)
    const now = this.#now()
    const repo = oauthRepo(this.#store.sql)
    // Codes that expired over a day ago only cost space (and a user-code collision).
    await repo.pruneDeviceCodes(new Date(now.getTime() - 86_400_000))
    await repo.pruneAttempts(new Date(now.getTime() - 86_400_000))
    if ((await repo.countPendingDeviceCodes(now)) >= MAX_PENDING_DEVICE_CODES) {
      throw new OAuthProtocolError('temporarily_unavailable', 'too many device logins are waiting for approval: try again in a minute', 503, 60)
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const deviceCode = randomSecret()
      const userCode = newUserCode()
      const row = await repo.insertDeviceCode({
        deviceCodeHash: sha256Hex(deviceCode),
        userCodeHash: userCodeHash(normalizeUserCode(userCode)!),
        clientId,
        scopes,
        intervalSeconds: this.intervalSeconds,
        expiresAt: new Date(now.getTime() + this.ttlSeconds * 1000),
      })
      if (!row) continue // a user code still in use: draw another
      const uri = `${baseUrl}/device`
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: uri,
        verification_uri_complete: `${uri}?user_code=${encodeURIComponent(userCode)}`,
        expires_in: this.ttlSeconds,
        interval: this.intervalSeconds,
      }
    }
    throw new Error('could not allocate a unique user code')
  }

  /** `POST /oauth/token` with the device-code grant: a token, or an OAuthProtocolError. */
  async poll(input: {deviceCode?: string; clientId?: string}): Promise<DeviceTokenResponse> {
    const deviceCode = input.deviceCode
    if (!deviceCode) throw new OAuthProtocolError('invalid_request', 'device_code is required')
    if (deviceCode.length > 200) throw new OAuthProtocolError('invalid_grant', 'unknown device code')
    const now = this.#now()
    const outcome = await this.#store.transaction(async (tx) => {
      const repo = oauthRepo(tx.sql)
      const row = await repo.deviceCodeByDeviceHash(sha256Hex(deviceCode), true)
      if (!row || row.status === 'consumed') return new OAuthProtocolError('invalid_grant', 'unknown or already used device code')
      if (input.clientId !== undefined && input.clientId !== row.clientId) return new OAuthProtocolError('invalid_grant', 'the device code was issued to another client')
      if (row.expiresAt.getTime() <= now.getTime()) return new OAuthProtocolError('expired_token', 'the device code has expired: start again')
      if (row.status === 'denied') return new OAuthProtocolError('access_denied', 'the request was denied')
      if (row.status === 'approved') return this.#issue(tx, row, now)
      // Pending: polling faster than the interval raises it (RFC 8628 §3.5).
      const early = row.lastPolledAt !== null && now.getTime() - row.lastPolledAt.getTime() < row.intervalSeconds * 1000 - POLL_TOLERANCE_MS
      const interval = early ? row.intervalSeconds + SLOW_DOWN_STEP_SECONDS : row.intervalSeconds
      await repo.recordPoll(row.id, now, interval)
      return early
        ? new OAuthProtocolError('slow_down', `polling too fast: wait ${interval} seconds between requests`)
        : new OAuthProtocolError('authorization_pending', 'waiting for the user to approve')
    })
    if (outcome instanceof OAuthProtocolError) throw outcome
    return outcome
  }

  async #issue(tx: StoreTx, row: DeviceCodeRow, now: Date): Promise<DeviceTokenResponse | OAuthProtocolError> {
    const consumed = await oauthRepo(tx.sql).consumeDeviceCode(row.id)
    if (!consumed || !consumed.orgId || !consumed.userId) return new OAuthProtocolError('invalid_grant', 'unknown or already used device code')
    const membership = await tx.memberships.get(consumed.orgId, consumed.userId)
    if (!membership) return new OAuthProtocolError('access_denied', 'the approving user is no longer a member of the organization')
    const user = await tx.users.getById(consumed.userId)
    // Only what the user's role allows: a member's device login never carries write scopes.
    const scopes = normalizeScopes(consumed.scopes.filter(isScope).filter((s) => roleAllows(membership.role, user?.isAdmin === true, s)))
    if (scopes.length === 0) return new OAuthProtocolError('invalid_scope', 'none of the requested scopes is allowed for your role in this organization')
    const seconds = parseExpiresIn(this.#tokenExpiresIn)
    const expiresAt = seconds === null ? null : new Date(now.getTime() + seconds * 1000)
    const {token} = await mintToken(tx, {orgId: consumed.orgId, userId: consumed.userId, name: `${consumed.clientId} (device login)`, scopes, expiresAt})
    const response: DeviceTokenResponse = {access_token: token, token_type: 'Bearer', scope: scopes.join(' ')}
    if (seconds !== null) response.expires_in = seconds
    return response
  }

  /** The pending request behind a typed user code (for the page), or undefined. */
  async describe(userCodeInput: string | undefined): Promise<PendingRequest | undefined> {
    const found = await this.#pending(userCodeInput)
    return found && pendingView(found.row, found.normalized)
  }

  async #pending(userCodeInput: string | undefined): Promise<{row: DeviceCodeRow; normalized: string} | undefined> {
    const normalized = normalizeUserCode(userCodeInput)
    if (!normalized) return undefined
    const row = await oauthRepo(this.#store.sql).deviceCodeByUserHash(userCodeHash(normalized))
    if (!row || row.status !== 'pending' || row.expiresAt.getTime() <= this.#now().getTime()) return undefined
    return {row, normalized}
  }

  /**
   * `POST /oauth/device/approve` by an authenticated CLI (`tokens:write`, checked by the route):
   * approves for the token's user and org. The requested scopes must all be held by that token.
   */
  async approveWithToken(auth: AuthContext, userCodeInput: string | undefined): Promise<DeviceApproved> {
    const found = await this.#pending(userCodeInput)
    if (!found) throw badRequest('INVALID_USER_CODE', 'this code is unknown, expired or already used', 'start again with `lobu oauth login` and approve the new code')
    // Org scopes the approver's role does not allow are left out of the token (see #issue); `admin`
    // and scopes the role allows but this token lacks are refused (S19).
    const missing = found.row.scopes.filter((s) => !isScope(s) || ((s === 'admin' || roleAllows(auth.role, auth.user.isAdmin, s)) && !hasScope(auth, s)))
    if (missing.length > 0) throw forbidden(`cannot approve scope${missing.length > 1 ? 's' : ''} ${missing.map((s) => `\`${s}\``).join(', ')}: this token does not hold ${missing.length > 1 ? 'them' : 'it'}`)
    const ok = await oauthRepo(this.#store.sql).approveDeviceCode(found.row.id, auth.org.id, auth.user.id, this.#now())
    if (!ok) throw badRequest('INVALID_USER_CODE', 'this code is unknown, expired or already used', 'start again with `lobu oauth login` and approve the new code')
    return {approved: true, clientId: found.row.clientId, scopes: found.row.scopes, org: auth.org.slug}
  }

  /**
   * `POST /device`: approve or deny with email and password. Never throws for user mistakes.
   *
   * Every attempt is counted before the password is checked (per client address on a team
   * gateway, per email, per user code, whatever state the code is in); a wrong password gets
   * the same answer whatever the state of the code; the password check waits its turn at the
   * hash gate (503 when too many are queued). Denying needs the same credentials as approving.
   */
  async decideOnPage(input: {userCode?: string; email?: string; password?: string; org?: string; action?: string; client?: string}): Promise<PageOutcome> {
    const found = await this.#pending(input.userCode)
    const request = found && pendingView(found.row, found.normalized)
    if (input.action !== 'approve' && input.action !== 'deny') return {kind: 'error', status: 400, message: 'Choose Approve or Deny.', request}
    const email = (input.email ?? '').trim().toLowerCase()
    const password = input.password ?? ''
    if (!email || !password || email.length > 320 || password.length > 1024) {
      return {kind: 'error', status: 400, message: `Enter your email and password to ${input.action === 'deny' ? 'deny' : 'approve'}.`, request}
    }
    const now = this.#now()
    const repo = oauthRepo(this.#store.sql)
    const codeSubject = normalizeUserCode(input.userCode) ?? `raw:${(input.userCode ?? '').slice(0, 64)}`
    const limits: Array<[Limit, string, string]> = []
    if (this.#limitAddresses && input.client) limits.push([ADDRESS_ATTEMPTS, input.client, 'Too many login attempts from your network. Wait 15 minutes and try again.'])
    limits.push([EMAIL_ATTEMPTS, email, 'Too many failed attempts for this email. Wait 15 minutes and try again.'])
    limits.push([CODE_ATTEMPTS, codeSubject, 'Too many failed attempts: this code is now denied. Start again in your terminal.'])
    let codeCount = 0
    for (const [limit, subject, message] of limits) {
      const counted = await countAttempt(this.#store, limit, subject, now)
      if (limit === CODE_ATTEMPTS) codeCount = counted.count
      if (!counted.ok) {
        if (limit === CODE_ATTEMPTS && found) await repo.denyDeviceCode(found.row.id)
        return {kind: 'error', status: 429, message, retryAfterSeconds: counted.retryAfterSeconds}
      }
    }

    let user: UserRow | undefined
    let valid: boolean
    try {
      ;({user, valid} = await this.#gate.run(async () => {
        const u = await this.#store.users.getByEmail(email)
        return {user: u, valid: await verifyPassword(password, u?.passwordHash ?? (await (dummyHash ??= hashPassword(randomSecret()))))}
      }))
    } catch (err) {
      if (err instanceof HashGateBusy) return {kind: 'error', status: 503, message: 'The gateway is busy checking other logins. Try again in a moment.', request, retryAfterSeconds: 1}
      throw err
    }
    if (!user || !user.passwordHash || !valid) {
      if (codeCount >= CODE_ATTEMPTS.max && found) {
        await repo.denyDeviceCode(found.row.id)
        return {kind: 'error', status: 429, message: 'Too many failed attempts: this code is now denied. Start again in your terminal.'}
      }
      return {kind: 'error', status: 401, message: 'Wrong email or password.', request}
    }
    await clearAttempts(this.#store, EMAIL_ATTEMPTS, email)
    if (!found || !request) return {kind: 'error', status: 400, message: 'This code is unknown, expired or already used. Start again in your terminal.'}

    if (input.action === 'deny') {
      await repo.denyDeviceCode(found.row.id)
      return {kind: 'denied', request}
    }
    const org = await this.#orgFor(user, input.org)
    if ('message' in org) return {kind: 'error', status: 403, message: org.message, request}
    const held = new Set<string>(user.isAdmin ? SCOPES : SCOPES.filter((s) => s !== 'admin'))
    const missing = found.row.scopes.filter((s) => !held.has(s))
    if (missing.length > 0) return {kind: 'error', status: 403, message: `Your account cannot grant: ${missing.join(', ')}.`, request}
    if (!(await repo.approveDeviceCode(found.row.id, org.id, user.id, now))) {
      return {kind: 'error', status: 400, message: 'This code is unknown, expired or already used. Start again in your terminal.'}
    }
    return {kind: 'approved', request, org: org.slug, user: user.name}
  }

  async #orgFor(user: UserRow, slug: string | undefined): Promise<OrgRow | {message: string}> {
    const memberships = await this.#store.memberships.listForUser(user.id)
    const orgs = (await Promise.all(memberships.map((m) => this.#store.orgs.getById(m.orgId)))).filter((o): o is OrgRow => o !== undefined)
    const wanted = slug?.trim()
    if (wanted) {
      const org = orgs.find((o) => o.slug === wanted)
      return org ?? {message: `You are not a member of an organization "${wanted}".`}
    }
    if (orgs.length === 1) return orgs[0]!
    if (orgs.length === 0) return {message: 'Your account is not a member of any organization.'}
    return {message: `You belong to several organizations (${orgs.map((o) => o.slug).sort().join(', ')}): enter the one to log in to.`}
  }
}

/**
 * The CLI side of the device authorization grant (RFC 8628): ask the gateway for a code pair,
 * then poll its token endpoint honouring `interval` and `slow_down` (interval += 5 s for this
 * and every later request) until the user approves, denies, or the code expires.
 *
 * The HTTP call and the clock are injectable so the poller is tested without waiting.
 */
import {AuthError, OperationError, UsageError} from '../core/errors.js'
import {unreachableError} from '../client/errors.js'
import type {DeviceCodeResponse, DeviceTokenResponse} from '../contract/api.js'

export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code'
export const CLI_CLIENT_ID = 'lobu-cli'
/** RFC 8628 §3.2: the interval when the server gives none. */
const DEFAULT_INTERVAL = 5
/** Transient network failures tolerated in a row while polling (then the login fails). */
const MAX_NETWORK_FAILURES = 3

/**
 * What the CLI reads of a device authorization answer: the gateway's (DeviceCodeResponse), of
 * which it needs only what RFC 8628 requires of any server.
 */
export type DeviceCode = Pick<DeviceCodeResponse, 'device_code' | 'user_code' | 'verification_uri' | 'expires_in'> & Partial<Pick<DeviceCodeResponse, 'verification_uri_complete' | 'interval'>>

/** The token answer of a device login, with what RFC 6749 requires of any server. */
export type DeviceToken = Pick<DeviceTokenResponse, 'access_token' | 'expires_in'> & {token_type: string; scope?: string}

export interface FormResponse {
  status: number
  body: Record<string, unknown>
}

/** POST a form, read a JSON answer. */
export type PostForm = (url: string, fields: Record<string, string>, signal?: AbortSignal) => Promise<FormResponse>

/** The default PostForm over undici (loaded on first use). Unreachable → OperationError. */
export const postForm: PostForm = async (url, fields, signal) => {
  const {request} = await import('undici')
  let res
  try {
    res = await request(url, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'lobu-cli'},
      body: new URLSearchParams(fields).toString(),
      signal,
    })
  } catch (err) {
    if (signal?.aborted) throw err
    throw unreachableError({baseUrl: new URL(url).origin}, err)
  }
  const text = await res.body.text()
  let body: Record<string, unknown> = {}
  try {
    const parsed = JSON.parse(text) as unknown
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>
  } catch {
    throw new OperationError(`unexpected answer from ${new URL(url).origin} (HTTP ${res.statusCode}, not JSON)`, {
      code: 'BAD_RESPONSE',
      hint: 'Is the URL a Lobu gateway? Check it with `lobu context list`',
    })
  }
  return {status: res.statusCode, body}
}

/** `POST /oauth/device/code`. */
export async function requestDeviceCode(baseUrl: string, opts: {clientId?: string; scopes?: readonly string[]; post?: PostForm} = {}): Promise<DeviceCode> {
  const fields: Record<string, string> = {client_id: opts.clientId ?? CLI_CLIENT_ID}
  if (opts.scopes && opts.scopes.length > 0) fields.scope = opts.scopes.join(' ')
  const {status, body} = await (opts.post ?? postForm)(`${baseUrl}/oauth/device/code`, fields)
  if (status === 200 && typeof body.device_code === 'string' && typeof body.user_code === 'string' && typeof body.verification_uri === 'string') {
    return body as unknown as DeviceCode
  }
  const error = typeof body.error === 'string' ? body.error : `HTTP ${status}`
  const description = typeof body.error_description === 'string' ? `: ${body.error_description}` : ''
  if (status === 400) throw new UsageError(`the gateway refused the login request (${error}${description})`, {code: 'DEVICE_CODE_REFUSED'})
  if (status === 404) {
    throw new OperationError(`the gateway at ${baseUrl} does not offer device login`, {code: 'NO_DEVICE_LOGIN', hint: 'Create a token there with `lobu token create` and use `lobu oauth login --with-token`'})
  }
  throw new OperationError(`the gateway could not start a login (${error}${description})`, {code: 'DEVICE_CODE_FAILED'})
}

export interface PollOptions {
  baseUrl: string
  code: Pick<DeviceCode, 'device_code' | 'expires_in' | 'interval'>
  clientId?: string
  signal?: AbortSignal
  post?: PostForm
  /** Wait `ms` (default: a timer that the signal aborts). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number
  /** Told the new interval (seconds) after each `slow_down`. */
  onSlowDown?: (intervalSeconds: number) => void
}

export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}

function expired(): OperationError {
  return new OperationError('the login code expired before it was approved', {code: 'EXPIRED_TOKEN', hint: 'Run `lobu oauth login` again and approve the new code within 10 minutes'})
}

/** Poll `POST /oauth/token` until the code is approved (→ the token), denied or expired. */
export async function pollForToken(opts: PollOptions): Promise<DeviceToken> {
  const post = opts.post ?? postForm
  const sleep = opts.sleep ?? defaultSleep
  const now = opts.now ?? Date.now
  let interval = opts.code.interval && opts.code.interval > 0 ? opts.code.interval : DEFAULT_INTERVAL
  const deadline = now() + opts.code.expires_in * 1000
  const fields: Record<string, string> = {grant_type: DEVICE_GRANT_TYPE, device_code: opts.code.device_code, client_id: opts.clientId ?? CLI_CLIENT_ID}
  let networkFailures = 0

  for (;;) {
    await sleep(interval * 1000, opts.signal)
    if (now() >= deadline) throw expired()
    let res: FormResponse
    try {
      res = await post(`${opts.baseUrl}/oauth/token`, fields, opts.signal)
      networkFailures = 0
    } catch (err) {
      if (opts.signal?.aborted || (err as {code?: string}).code !== 'GATEWAY_UNREACHABLE' || ++networkFailures > MAX_NETWORK_FAILURES) throw err
      interval *= 2 // RFC 8628 §3.5: back off on connection trouble
      continue
    }
    const {status, body} = res
    if (status === 200 && typeof body.access_token === 'string') return body as unknown as DeviceToken
    switch (body.error) {
      case 'authorization_pending':
        continue
      case 'slow_down':
        interval += 5
        opts.onSlowDown?.(interval)
        continue
      case 'access_denied':
        throw new AuthError('the login was denied', {code: 'ACCESS_DENIED', hint: 'Run `lobu oauth login` again if that was a mistake'})
      case 'expired_token':
        throw expired()
      default: {
        const error = typeof body.error === 'string' ? body.error : `HTTP ${status}`
        const description = typeof body.error_description === 'string' ? ` (${body.error_description})` : ''
        throw new OperationError(`the login failed: ${error}${description}`, {code: 'LOGIN_FAILED', hint: 'Run `lobu oauth login` again'})
      }
    }
  }
}

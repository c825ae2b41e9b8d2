/**
 * Calls to an OAuth provider's token endpoint (authorization-code exchange and refresh), over
 * undici. The token URL always comes from the agent's stored config (docs/SECURITY.md S10): callers pass it
 * from there, never from a request. Redirects are not followed (undici's request never follows
 * them); answers are size-capped. On a team gateway the token URL goes through the egress
 * guard (../egress): a refused destination is never contacted, so the client secret never
 * leaves for it.
 */
import {EgressRefusedError, egressRefusal, type EgressPolicy} from '../egress/index.js'


export const TOKEN_REQUEST_TIMEOUT_MS = 15_000
const MAX_RESPONSE_BYTES = 256 * 1024

export interface ClientCredentials {
  clientId?: string
  clientSecret?: string
}

export interface ProviderTokens {
  accessToken: string
  refreshToken?: string
  expiresAt: Date | null
  scopes?: string[]
  tokenType?: string
}

/**
 * The provider answered, but not with tokens. `refused` is true for a definitive refusal
 * (HTTP 400/401/403: invalid_grant, invalid_client…), false for a transient failure
 * (network, timeout, 5xx, unreadable answer).
 */
export class ProviderTokenError extends Error {
  constructor(
    message: string,
    readonly refused: boolean,
    readonly code?: string,
  ) {
    super(message)
    this.name = 'ProviderTokenError'
  }
}

function safeCode(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : undefined
}

/** POST a form to the token endpoint and read the tokens. Never puts a secret in an error. */
export async function tokenRequest(
  tokenUrl: string,
  params: Record<string, string>,
  client: ClientCredentials,
  now: Date = new Date(),
  egress?: EgressPolicy,
): Promise<ProviderTokens> {
  const form = new URLSearchParams(params)
  if (client.clientId) form.set('client_id', client.clientId)
  if (client.clientSecret) form.set('client_secret', client.clientSecret)
  const host = URL.canParse(tokenUrl) ? new URL(tokenUrl).host : 'the provider'

  let status: number
  let text: string
  try {
    const undici = await import('undici')
    if (egress?.guarded) egress.assertUrl(tokenUrl)
    const res = await undici.request(tokenUrl, {
      ...(egress?.guarded ? {dispatcher: egress.dispatcher(undici)} : {}),
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'lobu-gateway'},
      body: form.toString(),
      signal: AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS),
    })
    status = res.statusCode
    const buffer = Buffer.from(await res.body.arrayBuffer())
    if (buffer.length > MAX_RESPONSE_BYTES) throw new ProviderTokenError(`the token endpoint of ${host} sent an oversized answer`, false)
    text = buffer.toString('utf8')
  } catch (err) {
    if (err instanceof ProviderTokenError) throw err
    const refused: EgressRefusedError | undefined = egressRefusal(err)
    if (refused) throw new ProviderTokenError(`cannot use the token endpoint: ${refused.message}`, true)
    const reason = (err as {code?: string; name?: string} | null)?.code ?? (err as {name?: string} | null)?.name ?? 'error'
    throw new ProviderTokenError(`cannot reach the token endpoint of ${host} (${reason})`, false)
  }

  let body: Record<string, unknown> = {}
  try {
    const parsed = JSON.parse(text) as unknown
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>
  } catch {
    // Some providers answer form-encoded.
    for (const [k, v] of new URLSearchParams(text)) body[k] = v
  }

  if (status < 200 || status >= 300 || typeof body.error === 'string') {
    const code = safeCode(body.error)
    const refused = status === 400 || status === 401 || status === 403 || (status >= 200 && status < 300)
    throw new ProviderTokenError(`the token endpoint of ${host} refused the request (HTTP ${status}${code ? `, ${code}` : ''})`, refused, code)
  }
  const accessToken = body.access_token
  if (typeof accessToken !== 'string' || accessToken === '') throw new ProviderTokenError(`the token endpoint of ${host} answered without an access token`, false)
  const expiresIn = Number(body.expires_in)
  const tokens: ProviderTokens = {
    accessToken,
    expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? new Date(now.getTime() + expiresIn * 1000) : null,
  }
  if (typeof body.refresh_token === 'string' && body.refresh_token !== '') tokens.refreshToken = body.refresh_token
  if (typeof body.scope === 'string') tokens.scopes = body.scope.split(/[\s,]+/).filter(Boolean)
  if (typeof body.token_type === 'string') tokens.tokenType = body.token_type
  return tokens
}

/** Exchange an authorization code (with its PKCE verifier). */
export function exchangeCode(
  tokenUrl: string,
  input: {code: string; redirectUri: string; codeVerifier: string},
  client: ClientCredentials,
  now?: Date,
  egress?: EgressPolicy,
): Promise<ProviderTokens> {
  return tokenRequest(tokenUrl, {grant_type: 'authorization_code', code: input.code, redirect_uri: input.redirectUri, code_verifier: input.codeVerifier}, client, now, egress)
}

/** Use a refresh token. */
export function refreshTokens(tokenUrl: string, refreshToken: string, client: ClientCredentials, now?: Date, egress?: EgressPolicy): Promise<ProviderTokens> {
  return tokenRequest(tokenUrl, {grant_type: 'refresh_token', refresh_token: refreshToken}, client, now, egress)
}

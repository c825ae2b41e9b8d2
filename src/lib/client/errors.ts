import {AuthError, LobuError, OperationError, UsageError} from '../core/errors.js'

/** What the client knows about where it is talking to, for messages and hints. */
export interface ClientTarget {
  baseUrl: string
  contextName?: string
  tokenSource?: 'env' | 'stored'
}

/** A LobuError raised for an HTTP answer carries its status. */
export type HttpLobuError = LobuError & {status?: number}

/** The HTTP status of an error raised by the client, if it came from a gateway answer. */
export function httpStatusOf(error: unknown): number | undefined {
  const status = (error as {status?: unknown} | null)?.status
  return typeof status === 'number' ? status : undefined
}

function isLoopback(baseUrl: string): boolean {
  const host = new URL(baseUrl).hostname
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.')
}

function isLocal(target: ClientTarget): boolean {
  return target.contextName === 'local' || (target.contextName === undefined && isLoopback(target.baseUrl))
}

function contextFlag(target: ClientTarget): string {
  return target.contextName ? ` -c ${target.contextName}` : ''
}

/** Hint for a context with no usable token (none stored, or the stored one was rejected). */
export function loginHint(target: ClientTarget): string {
  if (target.tokenSource === 'env') return 'LOBU_TOKEN was not accepted: unset it or set a valid token for this gateway'
  if (isLocal(target)) return 'Start the gateway with `lobu run`: it stores a fresh token for this CLI'
  return `Log in with \`lobu oauth login${contextFlag(target)}\`, or run \`lobu token create\` on a machine that can reach the gateway and set LOBU_TOKEN`
}

/** The gateway could not be reached (refused, DNS, timeout, reset). */
export function unreachableError(target: ClientTarget, cause: unknown): OperationError {
  const code = (cause as {code?: string} | null)?.code
  const timedOut = code === 'ETIMEDOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
  const message = timedOut
    ? `the gateway at ${target.baseUrl} did not answer in time`
    : `cannot reach the gateway at ${target.baseUrl}`
  const hint = isLocal(target)
    ? 'Start it with `lobu run` in your project directory'
    : 'Check the context URL (`lobu context list`) and your network'
  return new OperationError(message, {code: 'GATEWAY_UNREACHABLE', hint, cause})
}

interface ServerError {
  code?: string
  message?: string
  hint?: string
}

/** Read `{"error": {code, message, hint?}}` from a response body, tolerating anything else. */
export function parseServerError(text: string): ServerError {
  try {
    const error = (JSON.parse(text) as {error?: unknown})?.error
    if (error && typeof error === 'object') {
      const e = error as Record<string, unknown>
      return {
        code: typeof e.code === 'string' ? e.code : undefined,
        message: typeof e.message === 'string' ? e.message : undefined,
        hint: typeof e.hint === 'string' ? e.hint : undefined,
      }
    }
    if (typeof error === 'string') return {message: error}
  } catch {
    // not JSON: fall through
  }
  const snippet = text.trim().split('\n')[0]?.slice(0, 200)
  return snippet ? {message: snippet} : {}
}

/** Map a non-2xx gateway answer to the CLI's error taxonomy (exit codes: README). */
export function httpError(status: number, bodyText: string, target: ClientTarget): HttpLobuError {
  const server = parseServerError(bodyText)
  const opts = {code: server.code, hint: server.hint}
  let error: LobuError
  if (status === 401) {
    error = new AuthError(server.message ?? 'the gateway rejected the token', {
      code: server.code ?? 'UNAUTHENTICATED',
      hint: server.hint ?? loginHint(target),
    })
  } else if (status === 403 && /^agent "[^"]*" does not exist/.test(server.message ?? '')) {
    // The gateway answers "no such agent" and "not your agent" alike (403); for the CLI user it is
    // a missing agent: exit 1 with where agents come from, not an auth failure.
    error = new OperationError(server.message!.replace(/ or is not accessible with this token$/, ' on this gateway'), {
      code: 'AGENT_NOT_FOUND',
      hint: 'lobu agents list shows the agents you can see; an agent comes from lobu.toml: declare it there and run `lobu apply` (or `lobu run` in the project)',
    })
  } else if (status === 403) {
    error = new AuthError(server.message ?? 'forbidden: the token lacks a scope for this request', {
      code: server.code ?? 'FORBIDDEN',
      hint: server.hint ?? 'Create a token with the scope you need: lobu token create --scope SCOPE',
    })
  } else if (status === 400 || status === 413 || status === 422) {
    const fallback = status === 413 ? 'request body too large' : 'the gateway rejected the request'
    error = new UsageError(server.message ?? fallback, {...opts, code: server.code ?? (status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST')})
  } else if (status === 404) {
    error = new OperationError(server.message ?? 'not found', {...opts, code: server.code ?? 'NOT_FOUND'})
  } else if (status === 409) {
    error = new OperationError(server.message ?? 'conflict', {...opts, code: server.code ?? 'CONFLICT'})
  } else if (status >= 500) {
    error = new OperationError(`the gateway failed: ${server.message ?? `HTTP ${status}`}`, {
      code: server.code ?? 'GATEWAY_ERROR',
      hint: server.hint ?? 'Check the gateway log (the terminal running `lobu run`); retry with --verbose',
    })
  } else if (status >= 300 && status < 400) {
    error = new OperationError(`unexpected redirect (HTTP ${status}) from the gateway at ${target.baseUrl}`, {
      code: 'UNEXPECTED_REDIRECT',
      hint: 'Check the context URL (http vs https, path): lobu context list',
    })
  } else {
    error = new OperationError(server.message ?? `the gateway answered HTTP ${status}`, {...opts, code: server.code ?? `HTTP_${status}`})
  }
  return Object.assign(error, {status})
}

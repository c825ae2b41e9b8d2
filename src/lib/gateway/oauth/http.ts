/**
 * HTTP helpers of the `/oauth/*` routes: form-or-JSON bodies (OAuth clients post forms, ours
 * posts JSON), RFC 6749 error bodies, and bearer authentication for the two routes outside
 * `/api` that need a token.
 */
import type {IncomingMessage} from 'node:http'

import type {Context} from 'hono'

import type {Scope} from '../../contract/scopes.js'
import {assertScope, authenticate, type AuthContext} from '../auth/authenticate.js'
import {unstorableText} from '../http/validate.js'
import type {Store} from '../store/types.js'

/** A parsed body: string fields only (arrays and objects are dropped, so nothing is coerced). */
export type Fields = Record<string, string>

export class BodyError extends Error {}

/**
 * Read `application/x-www-form-urlencoded` or `application/json` (an object of strings; a
 * `scope` array is joined with spaces). Anything else, or malformed JSON, throws BodyError.
 */
export async function readFields(c: Context): Promise<Fields> {
  const fields = await readRawFields(c)
  // Text PostgreSQL cannot store (U+0000, lone surrogates) is refused here, naming the field.
  for (const [k, v] of Object.entries(fields)) {
    const problem = unstorableText(k) ?? unstorableText(v)
    if (problem) throw new BodyError(`field "${k.replace(/[^\x20-\x7E]/g, '?')}" ${problem}`)
  }
  return fields
}

async function readRawFields(c: Context): Promise<Fields> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  const text = await c.req.text()
  const fields: Fields = {}
  if (type === 'application/json') {
    let value: unknown
    try {
      value = text.trim() === '' ? {} : JSON.parse(text)
    } catch {
      throw new BodyError('malformed JSON body')
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BodyError('the body must be a JSON object')
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v === 'string') fields[k] = v
      else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) fields[k] = v.join(' ')
      else if (v !== undefined && v !== null) throw new BodyError(`field "${k}" must be a string`)
    }
    return fields
  }
  if (type === 'application/x-www-form-urlencoded' || type === '') {
    const params = new URLSearchParams(text)
    for (const key of new Set(params.keys())) {
      const values = params.getAll(key)
      if (values.length > 1) throw new BodyError(`parameter "${key}" is repeated`)
      fields[key] = values[0]!
    }
    return fields
  }
  throw new BodyError(`unsupported content type "${type}": send application/x-www-form-urlencoded or application/json`)
}

/** RFC 6749 §5.2 error response (also used by RFC 8628). */
export function oauthError(c: Context, status: 400 | 401 | 403 | 429 | 500 | 503, error: string, description?: string): Response {
  c.header('cache-control', 'no-store')
  return c.json(description === undefined ? {error} : {error, error_description: description}, status)
}

/** Authenticate a bearer (401) and require a scope (403), as the `/api` middleware would. */
export async function bearerWithScope(c: Context, store: Store, scope: Scope): Promise<AuthContext> {
  const auth = await authenticate(store, c.req.header('authorization'))
  assertScope(auth, scope)
  return auth
}

/**
 * The gateway's public base URL as this request reached it: `LOBU_PUBLIC_URL` when set (a team
 * gateway behind a proxy), else the origin of the request (its Host is already checked by the
 * guards on a loopback gateway).
 */
export function publicBaseUrl(c: Context, env: NodeJS.ProcessEnv): string {
  const configured = env.LOBU_PUBLIC_URL?.trim()
  if (configured && URL.canParse(configured)) {
    const u = new URL(configured)
    return u.origin + u.pathname.replace(/\/+$/, '')
  }
  return new URL(c.req.url).origin
}

/** The client's address as the socket saw it (what per-address limits count), or undefined in memory. */
export function clientAddress(c: Context): string | undefined {
  return (c.env as {incoming?: IncomingMessage} | undefined)?.incoming?.socket?.remoteAddress ?? undefined
}

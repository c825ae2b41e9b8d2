/**
 * The Hono app: guards, body limit, auth for `/api/*` and `/v1/*`, JSON errors everywhere,
 * then the routes of every module.
 */
import {Hono, type MiddlewareHandler} from 'hono'
import {bodyLimit} from 'hono/body-limit'
import {HTTPException} from 'hono/http-exception'
import type {ContentfulStatusCode} from 'hono/utils/http-status'

import {authCacheOf} from '../auth/authenticate.js'
import {openaiErrorShape} from '../openai-compat/middleware.js'
import {authMiddleware} from './auth.js'
import {HttpError, errorBody} from './errors.js'
import {originGuard} from './guards.js'
import {requestHeader, requestTarget} from './node.js'
import type {App, AppEnv, RouteModule, Services} from './types.js'

export const MAX_BODY_BYTES = 1024 * 1024

export interface BuildAppOptions {
  services: Services
  routes: readonly RouteModule[]
  /** True when bound to a loopback host: enables the Host/Origin checks of docs/SECURITY.md S8. */
  loopback: boolean
  port: number
  /** Log each request at debug level (default true). */
  logRequests?: boolean
}

export function buildApp(opts: BuildAppOptions): App {
  const {services} = opts
  const app = new Hono<AppEnv>()

  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(err.toBody(), err.status)
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode
      if (status === 413) return c.json(tooLarge(), 413)
      if (status < 500) return c.json(errorBody('BAD_REQUEST', err.message || 'bad request'), status)
    }
    services.log('error', `${c.req.method} ${c.req.path} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    return c.json(errorBody('INTERNAL', 'internal server error', 'the gateway log has the details'), 500)
  })
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`), 404))

  // Debug log of each request: method, path (never the query: it is no place for secrets, but
  // a client may still put one there) and status.
  if (opts.logRequests !== false) {
    app.use('*', async (c, next) => {
      const started = Date.now()
      await next()
      services.log('debug', `${c.req.method} ${c.req.path} → ${c.res.status} (${Date.now() - started} ms)`)
    })
  }
  // OpenAI clients read errors in OpenAI's shape only: every /v1 error is rewritten into it.
  app.use('/v1/*', openaiErrorShape())
  app.use('*', async (c, next) => {
    c.header('cache-control', 'no-store')
    c.header('x-content-type-options', 'nosniff')
    await next()
  })
  app.use('*', originGuard({loopback: opts.loopback, port: opts.port}))
  app.use('*', cleanTarget())
  app.use('*', sizeLimit())
  app.use('/api/*', authMiddleware(services.store))
  app.use('/v1/*', authMiddleware(services.store))
  // Memberships and users change only through the admin routes: cached authentications of this
  // instance are dropped at once after a successful one (other instances: AUTH_CACHE_TTL_MS).
  app.use('/api/v1/admin/*', async (c, next) => {
    await next()
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && c.res.status < 400) authCacheOf(services.store).forgetAll()
  })

  for (const route of opts.routes) route.register(app, services)
  return app
}

/**
 * The 1 MiB body limit (docs/SECURITY.md S9). A request that declares its length is judged by the header alone
 * (hono's bodyLimit would first turn the request into a full web Request); one without (chunked)
 * is counted by hono's bodyLimit as it is read.
 */
function sizeLimit(): MiddlewareHandler<AppEnv> {
  const counting = bodyLimit({maxSize: MAX_BODY_BYTES, onError: (c) => c.json(tooLarge(), 413)})
  return async (c, next) => {
    const method = c.req.method
    if (method === 'GET' || method === 'HEAD') return next()
    const length = requestHeader(c, 'content-length')
    if (length !== undefined && requestHeader(c, 'transfer-encoding') === undefined) {
      return Number.parseInt(length || '0', 10) > MAX_BODY_BYTES ? c.json(tooLarge(), 413) : next()
    }
    return counting(c, next)
  }
}

/** `%00`, or a percent-encoded UTF-16 surrogate (ED A0..BF xx): text that cannot be stored. */
const UNSTORABLE_ESCAPE = /%00|%ED%[AB][0-9A-F]/i

/**
 * A path or query that decodes to U+0000 or to a surrogate is refused with 400 naming where
 * it is (JSON bodies and forms are checked where they are parsed: validate.ts; Node's HTTP
 * parser already refuses NUL in headers).
 */
function cleanTarget(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const target = requestTarget(c)
    const m = UNSTORABLE_ESCAPE.exec(target)
    if (!m) return next()
    const q = target.indexOf('?')
    let where = 'the URL path'
    if (q >= 0 && m.index > q) {
      const param = target.slice(q + 1).split('&').find((pair) => UNSTORABLE_ESCAPE.test(pair))?.split('=')[0] ?? ''
      where = `the query parameter "${safeDecode(param).replace(/[^\x20-\x7E]/g, '?')}"`
    }
    const problem = m[0] === '%00' ? 'U+0000 (NUL), which cannot be stored' : 'an encoded surrogate, which is not valid UTF-8'
    return c.json(errorBody('INVALID_REQUEST', `invalid request: ${where} contains ${problem}`), 400)
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

function tooLarge() {
  return errorBody('PAYLOAD_TOO_LARGE', `the request body exceeds ${MAX_BODY_BYTES} bytes (1 MiB)`)
}

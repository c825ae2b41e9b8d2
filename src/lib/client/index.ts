/**
 * The gateway API client (node:http(s), loaded on the first request). Import this module lazily,
 * inside a command's run().
 */
import {AuthError} from '../core/errors.js'
import type {ResolvedContext} from '../context/contexts.js'
import type {Env} from '../context/files.js'
import {tokenForContext} from '../credentials/store.js'
import {ApiClient} from './api-client.js'
import {loginHint} from './errors.js'

export {ApiClient} from './api-client.js'
export type {ApiClientOptions, RequestOptions, SseEvent, StreamOptions} from './api-client.js'
export {httpError, httpStatusOf, parseServerError} from './errors.js'

export interface ClientForContextOptions {
  /** Throw AuthError (exit 3) when there is no token for the context. */
  requireToken: boolean
  env?: Env
  userAgent?: string
}

/**
 * An ApiClient for a context, with its token (`$LOBU_TOKEN`, else the one stored for the context's
 * origin) bound to that origin. No token and requireToken → AuthError with the hint that fits.
 */
export function clientForContext(
  ctx: Pick<ResolvedContext, 'name' | 'url' | 'origin'>,
  options: ClientForContextOptions,
): ApiClient {
  const token = tokenForContext(ctx, options.env)
  if (!token && options.requireToken) {
    throw new AuthError(`no token for context "${ctx.name}" (${ctx.url})`, {
      code: 'NO_TOKEN',
      hint: loginHint({baseUrl: ctx.url, contextName: ctx.name}),
    })
  }
  return new ApiClient({
    baseUrl: ctx.url,
    token: token?.token,
    tokenOrigin: ctx.origin,
    tokenSource: token?.source,
    contextName: ctx.name,
    userAgent: options.userAgent,
  })
}

/**
 * Auth middleware: authenticates every `/api/*` and `/v1/*` request from the Authorization
 * header only, and `requireScope` for routes.
 */
import type {MiddlewareHandler} from 'hono'

import type {Scope} from '../../contract/scopes.js'
import {assertScope, authenticate} from '../auth/authenticate.js'
import type {Store} from '../store/types.js'
import {requestHeader} from './node.js'
import type {AppEnv} from './types.js'

export function authMiddleware(store: Store): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('auth', await authenticate(store, requestHeader(c, 'authorization')))
    await next()
  }
}

export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    assertScope(c.get('auth'), scope)
    await next()
  }
}

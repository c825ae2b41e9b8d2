/**
 * Types shared by the HTTP layer and the route modules.
 *
 * A route module registers its routes on the app; each route reads the request, calls one of
 * the gateway's services (built in services.ts) and renders the answer:
 *
 *   export const sessionRoutes: RouteModule = {
 *     name: 'sessions',
 *     register(app, services) {
 *       app.post('/api/v1/sessions', requireScope('chat'), async (c) => c.json(await services.sessions.create(…)))
 *     },
 *   }
 *
 * and is added to `coreRoutes` in http/routes/index.ts (or passed as `routes` to startGateway).
 * Every `/api/*` and `/v1/*` route is authenticated before it runs: `c.get('auth')` is set.
 */
import type {Hono} from 'hono'

import type {AuthContext} from '../auth/authenticate.js'
import type {Services} from '../services.js'

export type {LogLevel, Logger} from '../../core/log.js'
export type {Lifecycle, Services} from '../services.js'

export interface AppEnv {
  Variables: {
    /** Set on every `/api/*` and `/v1/*` request by the auth middleware. */
    auth: AuthContext
  }
}

export type App = Hono<AppEnv>

export interface RouteModule {
  readonly name: string
  register(app: App, services: Services): void
}

/**
 * Types shared by the HTTP layer and the route modules of later features.
 *
 * A route module registers its routes on the app with the gateway's services:
 *
 *   export const sessionsRoutes: RouteModule = {
 *     name: 'sessions',
 *     register(app, services) {
 *       const sessions = new SessionService(services.store)
 *       services.lifecycle.onShutdown(() => sessions.endAll())
 *       app.post('/api/v1/sessions', requireScope('chat'), async (c) => …)
 *     },
 *   }
 *
 * and is added to `coreRoutes` in http/routes/index.ts (or passed as `routes` to startGateway).
 * Every `/api/*` and `/v1/*` route is authenticated before it runs: `c.get('auth')` is set.
 */
import type {Hono} from 'hono'

import type {Logger} from '../../core/log.js'
import type {AgentService} from '../agents/service.js'
import type {AuthContext} from '../auth/authenticate.js'
import type {EgressPolicy} from '../egress/index.js'
import type {TokenService} from '../auth/token-service.js'
import type {OrgService} from '../orgs/service.js'
import type {Readiness} from '../readiness.js'
import type {ProviderSpec, Store} from '../store/types.js'

export type {LogLevel, Logger} from '../../core/log.js'

export interface AppEnv {
  Variables: {
    /** Set on every `/api/*` and `/v1/*` request by the auth middleware. */
    auth: AuthContext
  }
}

export type App = Hono<AppEnv>

export interface Lifecycle {
  /** Register a hook run when the gateway shuts down (before connections and the store close). */
  onShutdown(fn: () => void | Promise<void>): void
  /** Aborted when shutdown begins: long-lived work (streams, turns) listens to it. */
  readonly signal: AbortSignal
}

export interface Services {
  store: Store
  /** The gateway's environment (system provider keys, base URL overrides). */
  env: NodeJS.ProcessEnv
  version: string
  project: {id: string; root: string} | null
  /** AES-256-GCM install key for secrets at rest. */
  installKey: Buffer
  /** Base URL the gateway serves, e.g. http://127.0.0.1:8787 (no trailing slash). */
  url: string
  origin: string
  log: Logger
  lifecycle: Lifecycle
  /** The system providers computed at boot (every org's default agent carries them). */
  systemProviders: ProviderSpec[]
  /**
   * A team gateway (PostgreSQL, or bound to a non-loopback address): tenant-set destinations
   * are guarded (`egress`), see docs/SECURITY.md.
   */
  team: boolean
  /** The guard every request to a tenant-set URL goes through (unguarded on a local gateway). */
  egress: EgressPolicy
  tokens: TokenService
  orgs: OrgService
  agents: AgentService
  /** The boot steps `/health` waits for (absent: ready as soon as the routes answer). */
  readiness?: Readiness
  /** A chat turn's `done` is sent only once the turn is stored, whatever the store (`lobu run --durable`). */
  durable?: boolean
}

export interface RouteModule {
  readonly name: string
  register(app: App, services: Services): void
}

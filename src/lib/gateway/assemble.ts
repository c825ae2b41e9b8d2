/**
 * The heavy half of the gateway: services (built in services.ts), the Hono app and every route module
 * (which pull in hono, zod, undici and the provider clients). server.ts starts importing this
 * module at the very beginning of a boot and only awaits it once the port is bound and the
 * store is opening, so loading it overlaps with the database start.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'

import {getRequestListener} from '@hono/node-server'

import type {EgressPolicy} from './egress/index.js'
import {buildApp} from './http/app.js'
import {coreRoutes} from './http/routes/index.js'
import type {Lifecycle, Logger, RouteModule, Services} from './http/types.js'
import {loadUndici} from './providers/index.js'
import type {Readiness} from './readiness.js'
import {buildServices, type ServiceOptions} from './services.js'
import type {ProviderSpec, Store} from './store/types.js'

export interface AssembleOptions {
  /** Open, migrated and bootstrapped. */
  store: Store
  /** This boot's system providers (the ones bootstrap applied). */
  systemProviders: ProviderSpec[]
  env: NodeJS.ProcessEnv
  version: string
  project: {id: string; root: string} | null
  installKey: Buffer
  url: string
  log: Logger
  lifecycle: Lifecycle
  loopback: boolean
  port: number
  /** See Services.team. */
  team: boolean
  egress: EgressPolicy
  /** Route modules mounted after the core ones; one named like a core module replaces it. */
  routes?: readonly RouteModule[]
  /** See GatewayOptions.logRequests. */
  logRequests?: boolean
  /** The boot steps `/health` waits for. */
  readiness: Readiness
  /** See GatewayOptions.durable. */
  durable?: boolean
  /** See GatewayOptions.services. */
  serviceOptions?: ServiceOptions
}

/** How long after ready the provider HTTP client is loaded, so it is not on the boot path. */
const WARM_UP_DELAY_MS = 1000

export interface Assembled {
  services: Services
  systemProviders: ProviderSpec[]
  listener: (req: IncomingMessage, res: ServerResponse) => void
}

/** Build the app over a bootstrapped store. */
export function assembleGateway(opts: AssembleOptions): Assembled {
  const {store, systemProviders} = opts

  const services = buildServices(
    {
      store,
      env: opts.env,
      version: opts.version,
      project: opts.project,
      installKey: opts.installKey,
      url: opts.url,
      origin: opts.url,
      log: opts.log,
      lifecycle: opts.lifecycle,
      systemProviders,
      team: opts.team,
      egress: opts.egress,
      readiness: opts.readiness,
      durable: opts.durable ?? false,
    },
    opts.serviceOptions,
  )
  const extra = opts.routes ?? []
  const replaced = new Set(extra.map((r) => r.name))
  const app = buildApp({services, routes: [...coreRoutes.filter((r) => !replaced.has(r.name)), ...extra], loopback: opts.loopback, port: opts.port, logRequests: opts.logRequests})
  const listener = getRequestListener((req, bindings) => app.fetch(req, bindings as never))
  // The provider HTTP client (undici, ~0.1 s to load) is loaded once the gateway has been
  // answering for a moment, so neither the boot nor, usually, the first turn pays for it.
  setTimeout(() => void loadUndici().catch(() => {}), WARM_UP_DELAY_MS).unref()
  return {services, systemProviders, listener: listener as Assembled['listener']}
}

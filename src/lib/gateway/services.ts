/**
 * The composition root: every service of a gateway is built here, once per gateway, over its
 * store. Routes only read a request, call one of these and render the answer; services reach
 * the database through the store's repositories (store/repos/).
 *
 * Adding a service: build it in buildServices (one line), add its field to Services, and, when
 * it holds work that must end with the gateway, register its shutdown with `lifecycle`.
 * Shutdown hooks run in the reverse order of their registration.
 */
import type {Logger} from '../core/log.js'
import {AgentService} from './agents/service.js'
import {ApplyService, secretCodec} from './apply/service.js'
import {TokenService} from './auth/token-service.js'
import type {EgressPolicy} from './egress/index.js'
import {DeviceService} from './oauth/device.js'
import {GrantService, startRefreshJob, type RefreshJobOptions} from './oauth/grants.js'
import {CompletionService} from './openai-compat/service.js'
import {OrgService} from './orgs/service.js'
import type {Readiness} from './readiness.js'
import {SessionService, type SessionServiceOptions} from './sessions/service.js'
import {ToolService, type ToolServiceOptions} from './tools/service.js'
import type {ProviderSpec, Store} from './store/types.js'

export interface Lifecycle {
  /** Register a hook run when the gateway shuts down (before connections and the store close). */
  onShutdown(fn: () => void | Promise<void>): void
  /** Aborted when shutdown begins: long-lived work (streams, turns) listens to it. */
  readonly signal: AbortSignal
}

/** What every gateway has before its services: the store, its settings and its lifecycle. */
export interface GatewayBase {
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
  /** The boot steps `/health` waits for (absent: ready as soon as the routes answer). */
  readiness?: Readiness
  /** A chat turn's `done` is sent only once the turn is stored, whatever the store (`lobu run --durable`). */
  durable?: boolean
}

export interface Services extends GatewayBase {
  tokens: TokenService
  orgs: OrgService
  agents: AgentService
  apply: ApplyService
  sessions: SessionService
  /** The OpenAI-compatible endpoint's turns (nothing stored). */
  completions: CompletionService
  /** Device login (RFC 8628). */
  device: DeviceService
  /** OAuth account connections and the caller's own provider keys. */
  grants: GrantService
  /** The agents' MCP tools: connections, approvals and grants (tools/service.ts). */
  tools: ToolService
}

/** Settings of the services other than the defaults (tests; `lobu run` flags). */
export interface ServiceOptions {
  sessions?: Partial<Pick<SessionServiceOptions, 'timeoutMs' | 'disconnectGraceMs' | 'shutdownWaitMs' | 'grants' | 'deliverBeforeStored' | 'commitWindowMs'>>
  completions?: {timeoutMs?: number}
  tools?: ToolServiceOptions
  oauth?: RefreshJobOptions & {
    /** Device-code polling interval in seconds (default 5). */
    deviceIntervalSeconds?: number
    /** Device-code lifetime in seconds (default 600). */
    deviceTtlSeconds?: number
    /** The clock of device codes, states and refreshes (tests move it). */
    now?: () => Date
  }
}

/** Build every service of a gateway (see the top of this file). */
export function buildServices(base: GatewayBase, options: ServiceOptions = {}): Services {
  const {store, env, installKey, systemProviders, url, log, lifecycle, egress} = base
  const oauth = options.oauth ?? {}
  // LOBU_APPROVAL_TIMEOUT_MS shortens the 10-minute wait for a decision (tests, demos).
  const approvalTtl = Number(env.LOBU_APPROVAL_TIMEOUT_MS)
  const tools = new ToolService(base, {...(Number.isInteger(approvalTtl) && approvalTtl > 0 ? {approvalTtlMs: approvalTtl} : {}), ...options.tools})
  // Registered before the turns' hooks: shutdown hooks run last-registered first (server.ts), so
  // the MCP connections close after the turns that use them have ended.
  lifecycle.onShutdown(() => tools.close())
  const services: Services = {
    ...base,
    tools,
    tokens: new TokenService(store),
    orgs: new OrgService(store, () => systemProviders),
    agents: new AgentService(store),
    apply: new ApplyService({store, codec: secretCodec(installKey)}),
    sessions: new SessionService({tools, store, env, installKey, systemProviders, egress, url, log, ...(base.durable ? {deliverBeforeStored: false} : {}), ...options.sessions}),
    completions: new CompletionService({store, env, installKey, systemProviders, url, egress, tools, ...options.completions}),
    device: new DeviceService({store, intervalSeconds: oauth.deviceIntervalSeconds, ttlSeconds: oauth.deviceTtlSeconds, limitAddresses: base.team, now: oauth.now}),
    grants: new GrantService({store, installKey, log, now: oauth.now, egress}),
  }
  lifecycle.onShutdown(() => services.sessions.shutdown())
  lifecycle.onShutdown(() => services.completions.shutdown())
  startRefreshJob(services.grants, lifecycle, log, oauth)
  return services
}

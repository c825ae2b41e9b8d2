/**
 * The embedded gateway: one HTTP server (Hono on @hono/node-server) over one store.
 *
 * Boot order: bind the port FIRST (a busy port fails before anything is written), take the
 * data-dir lock, load the install key, open the store (migrations) and bootstrap it while the
 * app's modules load, then answer.
 * Requests that arrive before that get 503.
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {trace} from '../core/trace.js'
import {computeSystemProviders} from './agents/system-providers.js'
import {bootstrap, ensureLocalCliToken, type LocalCliToken} from './bootstrap/index.js'
import {loadInstallKey} from './crypto/index.js'
import {EgressAllowListError, EgressPolicy} from './egress/index.js'
import {GatewayConfigError, GatewayError} from './errors.js'
import {errorBody} from './http/errors.js'
import {isLoopbackHost} from './http/guards.js'
import type {Lifecycle, Logger, RouteModule, Services} from './http/types.js'
import {Readiness} from './readiness.js'
import type {ServiceOptions} from './services.js'
import {openStore} from './store/index.js'
import {acquireDataDirLock} from './store/lock.js'
import type {ProviderSpec, Store} from './store/types.js'
import {startUpkeep, type UpkeepOptions} from './store/upkeep.js'

export interface GatewayOptions {
  /** Default 127.0.0.1. A non-loopback host disables the loopback Host/Origin rules (docs/SECURITY.md S8). */
  host?: string
  /**
   * A team gateway: tenant-set destinations are guarded (docs/SECURITY.md, "Egress"). Default:
   * with `databaseUrl` or a non-loopback `host`. Tests over an injected store set it.
   */
  team?: boolean
  /** 0 = a random free port. */
  port: number
  /** PGlite data dir (and where encryption.key lives). Locked for this process. */
  dataDir?: string
  /** PostgreSQL URL; when set, PGlite is not used. */
  databaseUrl?: string
  /** The gateway's environment (system provider keys, ENCRYPTION_KEY); default process.env. */
  env?: NodeJS.ProcessEnv
  version: string
  project?: {id: string; root: string}
  logger?: Logger
  /** Route modules mounted after the core ones; one named like a core module replaces it. */
  routes?: readonly RouteModule[]
  /** Settings of the services other than their defaults (tests; see services.ts). */
  services?: ServiceOptions
  /**
   * Log every request at debug level (default true). Off when the logger shows no debug lines:
   * the line is then not even built (its URL is parsed for it), once per request.
   */
  logRequests?: boolean
  /** Use this already-open store instead of opening one (tests). It is NOT closed by close(). */
  store?: Store
  /** Use this install key instead of loading one. */
  installKey?: Buffer
  /** Called once the port is bound, before the store opens (requests get 503 until ready). */
  onListening?: (url: string) => void
  /**
   * The upkeep of an embedded (PGlite) store, which has no autovacuum: see store/upkeep.ts.
   * `false` turns it off; the numbers override its schedule (tests).
   */
  upkeep?: false | Pick<UpkeepOptions, 'everyMs' | 'quietMs'>
  /**
   * The boot steps `/health` waits for (see readiness.ts). The gateway adds its own ("gateway");
   * the caller adds its steps before calling startGateway. Default: a new one.
   */
  readiness?: Readiness
  /**
   * Aborting it stops the boot between two stages: what was opened is closed, the lock released,
   * and startGateway rejects with the signal's reason. Ignored once the gateway is up.
   */
  signal?: AbortSignal
  /** Awaited at each stage of the boot (`listening`, `locked`, `store ready`), before the abort check (tests, tracing). */
  onStage?: (stage: GatewayStage) => void | Promise<void>
  /**
   * Send a chat turn's `done` only once the turn is stored, also with PGlite (where it is
   * otherwise sent as soon as the turn is queued to be stored; see sessions/service.ts
   * deliverBeforeStored). PostgreSQL always works this way.
   */
  durable?: boolean
}

export type GatewayStage = 'listening' | 'locked' | 'store ready'

export interface RunningGateway {
  /** e.g. http://127.0.0.1:8787 */
  url: string
  /** The origin tokens are stored under in credentials.json (same as url). */
  origin: string
  host: string
  port: number
  store: Store
  dataDir?: string
  installKey: Buffer
  systemProviders: ProviderSpec[]
  services: Services
  /** The boot steps `/health` waits for. */
  readiness: Readiness
  /** Keep a valid token of the local admin in org `local`, or mint one with all scopes. */
  ensureLocalCliToken(candidate?: string): Promise<LocalCliToken>
  /**
   * Refuse new turns (503 with a hint; other requests are still served) and wait until the
   * running ones end, at most timeoutMs. True when they all ended. Then call close().
   */
  drain(timeoutMs: number): Promise<boolean>
  /** Resolves true once no request has been in flight for quietMs (false when aborted). */
  whenIdle(quietMs: number, signal?: AbortSignal): Promise<boolean>
  /** Requests and turn streams being served now. */
  inFlight(): {requests: number; turns: number}
  /** Register a hook run at shutdown, before connections and the store close. */
  onShutdown(fn: () => void | Promise<void>): void
  /** Stop accepting, run shutdown hooks, close connections and the store, release the lock. Idempotent. */
  close(): Promise<void>
}

/** "port 8787 is in use — is another `lobu run` up? try --port". */
export class PortInUseError extends GatewayError {
  readonly port: number
  constructor(port: number, host: string) {
    super(`port ${port} is in use — is another \`lobu run\` up?`, {code: 'PORT_IN_USE', hint: `try --port (another process listens on ${formatHost(host)}:${port})`})
    this.port = port
  }
}

const HEADERS_TIMEOUT_MS = 30_000
const REQUEST_TIMEOUT_MS = 60_000

/** How long close() lets open connections finish after the shutdown hooks before cutting them. */
const CLOSE_GRACE_MS = 1500

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/** The address clients use: a wildcard bind is reached over loopback. */
function clientHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '[::1]'
  return formatHost(host)
}

const defaultLogger: Logger = (level, msg) => {
  if (level === 'error' || level === 'warn') process.stderr.write(`lobu gateway ${level}: ${msg}\n`)
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening)
      if (err.code === 'EADDRINUSE') reject(new PortInUseError(port, host))
      else reject(new GatewayError(`cannot listen on ${formatHost(host)}:${port}: ${err.message}`, {code: 'LISTEN_FAILED', hint: 'try another --host or --port'}))
    }
    const onListening = () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(port, host)
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections()
      resolve()
      return
    }
    const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS)
    force.unref()
    server.close(() => {
      clearTimeout(force)
      resolve()
    })
    server.closeIdleConnections()
  })
}

export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const host = opts.host ?? '127.0.0.1'
  const env = opts.env ?? process.env
  const log = opts.logger ?? defaultLogger
  const loopback = isLoopbackHost(host)
  const team = opts.team ?? (Boolean(opts.databaseUrl) || !loopback)
  let egress: EgressPolicy
  try {
    egress = new EgressPolicy({guarded: team, allow: env.LOBU_EGRESS_ALLOW})
  } catch (err) {
    if (err instanceof EgressAllowListError) throw new GatewayConfigError(err.message, {code: 'INVALID_EGRESS_ALLOW', hint: 'LOBU_EGRESS_ALLOW takes comma-separated hosts, host:port pairs or CIDRs, e.g. models.internal,10.1.0.0/16'})
    throw err
  }
  const readiness = opts.readiness ?? new Readiness()
  const gatewayReady = readiness.add('gateway')
  /** Between two stages of the boot: the caller's hook, then stop if the boot was aborted. */
  const stage = async (name: GatewayStage) => {
    await opts.onStage?.(name)
    opts.signal?.throwIfAborted()
  }
  let phase: 'starting' | 'ready' | 'closing' = 'starting'
  let listener: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  /** When the last request came in (the upkeep waits for a quiet moment). */
  let lastRequestAt: number | undefined
  // Requests in flight (a turn's stream lasts as long as the turn): `drain` lets running turns
  // finish while new ones are refused, `whenIdle` waits until nobody is being served.
  let inFlight = 0
  let turnsInFlight = 0
  let draining = false
  const waiters = new Set<() => void>()
  const notify = () => {
    for (const w of [...waiters]) w()
  }
  const server = createServer((req, res) => {
    lastRequestAt = performance.now()
    const turn = startsTurn(req)
    if (draining && turn) return stopping(res)
    inFlight++
    if (turn) turnsInFlight++
    res.once('close', () => {
      inFlight--
      if (turn) turnsInFlight--
      lastRequestAt = performance.now()
      notify()
    })
    if (phase === 'ready' && listener) listener(req, res)
    else unavailable(req, res, phase)
  })
  /** Resolves once `done()` holds (checked now and after every request), or after timeoutMs / on abort. */
  const waitFor = (done: () => boolean, timeoutMs?: number, signal?: AbortSignal): Promise<boolean> =>
    new Promise((resolve) => {
      if (done()) return resolve(true)
      let timer: NodeJS.Timeout | undefined
      const finish = (ok: boolean) => {
        waiters.delete(check)
        if (timer) clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(ok)
      }
      const check = () => {
        if (done()) finish(true)
      }
      const onAbort = () => finish(false)
      waiters.add(check)
      if (timeoutMs !== undefined) timer = setTimeout(() => finish(false), timeoutMs)
      signal?.addEventListener('abort', onAbort, {once: true})
    })

  server.on('clientError', badRequestFromParser)

  // Slow clients cannot hold a connection open for free: the headers within 30 s, the whole
  // request body within 60 s (responses, e.g. event streams, are not limited by these).
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = REQUEST_TIMEOUT_MS

  // 1. Bind first: a busy port fails before anything is written.
  const port = await listen(server, opts.port, host)
  trace('gateway: listening')
  const url = `http://${clientHost(host)}:${port}`
  opts.onListening?.(url)

  const shutdownHooks: Array<() => void | Promise<void>> = []
  const shutdown = new AbortController()
  const lifecycle: Lifecycle = {onShutdown: (fn) => void shutdownHooks.push(fn), signal: shutdown.signal}

  let release: (() => Promise<void>) | undefined
  let store: Store | undefined
  let opening: Promise<Store> | undefined
  const ownsStore = !opts.store
  try {
    await stage('listening')
    const databaseUrl = opts.databaseUrl
    if (!opts.store && !databaseUrl && !opts.dataDir) throw new GatewayConfigError('the gateway needs a data dir or a database URL', {code: 'NO_STORAGE'})
    // 2. One process per PGlite data dir (docs/SECURITY.md S12), taken before PGlite opens it.
    if (!opts.store && !databaseUrl && opts.dataDir) {
      const lock = await acquireDataDirLock(opts.dataDir, {url})
      release = async () => lock.release()
      trace('gateway: data-dir lock taken')
      await stage('locked')
    }
    // 3. The install key (docs/SECURITY.md S6), validated at boot: a malformed ENCRYPTION_KEY (or none with a
    // database URL) fails before the store is touched; the key file is read while it opens.
    const loadingKey = opts.installKey ? Promise.resolve(opts.installKey) : loadInstallKey({env, dataDir: opts.dataDir})
    loadingKey.catch(() => {}) // awaited below
    if (!opts.installKey && (env.ENCRYPTION_KEY || !opts.dataDir)) await loadingKey
    // 4. The store, migrated, then bootstrapped (convergent) with this boot's system providers:
    // the database works on both while the app's modules finish loading on this thread.
    opening = opts.store ? Promise.resolve(opts.store) : openStore({databaseUrl, dataDir: databaseUrl ? undefined : opts.dataDir})
    opening.catch(() => {}) // awaited below
    const systemProviders = computeSystemProviders(env)
    const bootstrapping = opening.then(async (opened) => {
      trace('gateway: store open and migrated')
      await loadingKey // a bad key file fails the boot before bootstrap writes anything
      await bootstrap(opened, {systemProviders})
      trace('gateway: bootstrap done')
    })
    bootstrapping.catch(() => {}) // awaited below
    // The app's modules (hono, routes, provider clients) load while the database starts: their
    // ~0.15 s of main-thread work comes after the lock so that it does not delay the database.
    const assembling = import('./assemble.js')
    assembling.catch(() => {}) // awaited below
    const installKey = await loadingKey
    trace('gateway: install key loaded')
    const {assembleGateway} = await assembling
    trace('gateway: app modules loaded')
    store = await opening
    await bootstrapping
    await stage('store ready')
    // 5. The app.
    const assembled = assembleGateway({
      store,
      systemProviders,
      env,
      version: opts.version,
      project: opts.project ?? null,
      installKey,
      url,
      log,
      lifecycle,
      loopback,
      port,
      team,
      egress,
      routes: opts.routes,
      logRequests: opts.logRequests,
      readiness,
      durable: opts.durable,
      serviceOptions: opts.services,
    })
    const {services} = assembled
    lifecycle.onShutdown(() => egress.close())
    listener = assembled.listener
    phase = 'ready'
    gatewayReady()
    trace('gateway: serving')
    // Registered last, so it stops first: before the routes' own shutdown work and the store's close.
    const upkeep = opts.upkeep === false ? undefined : startUpkeep(store, {...opts.upkeep, lastRequestAt: () => lastRequestAt, log})
    if (upkeep) lifecycle.onShutdown(() => upkeep.stop())

    const openStoreRef = store
    let closing: Promise<void> | undefined
    const close = async () => {
      phase = 'closing'
      shutdown.abort()
      for (const hook of [...shutdownHooks].reverse()) {
        try {
          await hook()
        } catch (err) {
          log('warn', `shutdown hook failed: ${err instanceof Error ? err.message : String(err)}`)
        }
      }
      try {
        await closeServer(server)
      } finally {
        try {
          if (ownsStore) await openStoreRef.close()
        } finally {
          await release?.()
        }
      }
    }

    return {
      url,
      origin: url,
      host,
      port,
      store,
      dataDir: opts.dataDir,
      installKey,
      systemProviders,
      services,
      readiness,
      ensureLocalCliToken: (candidate?: string) => ensureLocalCliToken(openStoreRef, candidate),
      drain: async (timeoutMs: number) => {
        draining = true
        return waitFor(() => turnsInFlight === 0, timeoutMs)
      },
      whenIdle: async (quietMs: number, signal?: AbortSignal) => {
        // Nobody served for quietMs in a row: a client between two requests (session, then its
        // message) is not left without a gateway.
        while (!signal?.aborted) {
          if (!(await waitFor(() => inFlight === 0, undefined, signal))) return false
          const since = performance.now() - (lastRequestAt ?? 0)
          if (since >= quietMs) return true
          await new Promise<void>((r) => setTimeout(r, quietMs - since).unref())
        }
        return false
      },
      inFlight: () => ({requests: inFlight, turns: turnsInFlight}),
      onShutdown: lifecycle.onShutdown,
      close: () => (closing ??= close()),
    }
  } catch (err) {
    phase = 'closing'
    await closeServer(server)
    // A store still opening when something else failed is closed once it is open.
    if (!store && opening && ownsStore) store = await opening.catch(() => undefined)
    if (store && ownsStore) await store.close().catch(() => undefined)
    await release?.().catch(() => undefined)
    throw err
  }
}

/** A request that starts a turn: a message to a session, or an OpenAI-compatible completion. */
function startsTurn(req: IncomingMessage): boolean {
  if (req.method !== 'POST' || !req.url) return false
  const path = req.url.split('?', 1)[0]!
  return path.endsWith('/messages') || path === '/v1/chat/completions'
}

/** 503 for a new turn while the gateway lets running turns finish before it stops. */
function stopping(res: ServerResponse): void {
  const body = errorBody('UNAVAILABLE', 'the gateway is stopping: running turns may finish, new ones are refused', 'Start it again with `lobu run` (or let `lobu chat` start one), then retry')
  res.writeHead(503, {'content-type': 'application/json', 'retry-after': '1', 'cache-control': 'no-store', connection: 'close'})
  res.end(JSON.stringify(body))
}

/**
 * Before the store is ready (and while closing) every request gets a JSON 503; `/health` also
 * says `status` (`starting` or `stopping`).
 */
function unavailable(req: IncomingMessage, res: ServerResponse, phase: 'starting' | 'ready' | 'closing'): void {
  const error = phase === 'closing' ? errorBody('UNAVAILABLE', 'the gateway is shutting down') : errorBody('UNAVAILABLE', 'the gateway is starting', 'retry in a moment')
  const isHealth = req.url === '/health' || req.url?.startsWith('/health?')
  const body = isHealth ? {status: phase === 'closing' ? 'stopping' : 'starting', ...error} : error
  res.writeHead(503, {'content-type': 'application/json', 'retry-after': '1', 'cache-control': 'no-store'})
  res.end(JSON.stringify(body))
}

/**
 * A request Node's HTTP parser refuses (e.g. U+0000 in a header): the JSON error every other
 * 400 has, naming the header when it can be told. Timeouts and oversized headers keep Node's
 * own status.
 */
function badRequestFromParser(err: NodeJS.ErrnoException & {rawPacket?: Buffer}, socket: import('node:stream').Duplex): void {
  if (!socket.writable || (socket as {_httpMessage?: unknown})._httpMessage) {
    socket.destroy()
    return
  }
  let status = 400
  let reason = 'Bad Request'
  let body = errorBody('BAD_REQUEST', 'malformed HTTP request')
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431
    reason = 'Request Header Fields Too Large'
    body = errorBody('HEADERS_TOO_LARGE', 'the request headers are too large')
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408
    reason = 'Request Timeout'
    body = errorBody('REQUEST_TIMEOUT', 'the request took too long to arrive')
  } else if (err.code === 'HPE_INVALID_HEADER_TOKEN' || err.code === 'HPE_INVALID_HEADER_VALUE') {
    const line = err.rawPacket?.toString('latin1').split('\r\n').find((l, i) => i > 0 && /[\x00-\x08\x0a-\x1f\x7f]/.test(l))
    const name = line?.split(':')[0]?.trim()
    const named = name && /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/.test(name) ? `the header "${name.toLowerCase()}"` : 'a header'
    body = errorBody('INVALID_REQUEST', `invalid request: ${named} contains a control character (such as U+0000)`)
  }
  const text = JSON.stringify(body)
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`)
}

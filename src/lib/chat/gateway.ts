/**
 * Making sure a gateway answers before chatting. For the `local` context: if something answers
 * at its URL, check which project it serves (warn when it is another one); if nothing answers,
 * boot the embedded gateway inside this process (same data dir, lock and auto-apply as
 * `lobu run`), unless --no-boot.
 *
 * `lobu chat` does not wait for that check before its first request: `openLocalSession` creates
 * the session right away and asks /health at the same time; only when nothing answers does it
 * take the boot path. `ensureLocalGateway` is the check on its own (probe first).
 */

import {OperationError, UsageError} from '../core/errors.js'
import {projectIdOf} from '../config/project-id.js'
import {ApiClient} from '../client/api-client.js'
import type {Project} from '../config/index.js'
import type {ResolvedContext} from '../context/index.js'
import type {HealthResponse} from '../contract/api.js'
import {readProjectGateway} from '../context/project-gateway.js'

export interface LocalGatewayOptions {
  ctx: Pick<ResolvedContext, 'name' | 'url'> & Partial<Pick<ResolvedContext, 'project'>>
  project?: Project
  boot: boolean
  version: string
  /** Progress / warnings for stderr (dimmed by the caller). */
  note(line: string): void
  warn(line: string): void
  verbose?: boolean
  env?: NodeJS.ProcessEnv
  /** How long to wait for /health (default 2 s). */
  healthTimeoutMs?: number
  /** Ctrl-C: stops waiting (for a starting gateway, for other shells' turns). */
  signal?: AbortSignal
}

export interface EnsuredGateway {
  /** Set when this process booted the gateway: close it when done. */
  close?: () => Promise<void>
  booted: boolean
}

/** What /health told: the gateway's answer, or `{ok: false}` while it starts or stops (503). */
export type Health = HealthResponse | {ok: false}

export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.')
}

/** GET /health without a token: the answer, or undefined when nothing answers. */
export async function probeHealth(url: string, timeoutMs = 2_000, signal?: AbortSignal): Promise<Health | undefined> {
  const client = new ApiClient({baseUrl: url})
  const timeout = AbortSignal.timeout(timeoutMs)
  try {
    return await client.get<Health>('/health', undefined, {signal: signal ? AbortSignal.any([timeout, signal]) : timeout})
  } catch (err) {
    const code = (err as {code?: string; name?: string} | null)?.code
    const name = (err as {name?: string} | null)?.name
    if (code === 'GATEWAY_UNREACHABLE' || name === 'AbortError' || name === 'TimeoutError') return undefined
    // A gateway still starting (or shutting down) answers 503: it is there.
    if ((err as {status?: number} | null)?.status === 503) return {ok: false}
    throw new OperationError(`something that is not a Lobu gateway answers at ${url}`, {
      code: 'NOT_A_GATEWAY',
      hint: 'Another program uses that port: stop it, or set gateway.port in lobu.toml (or lobu context add)',
      cause: err,
    })
  }
}

/**
 * The local gateway serves another project than the one of this directory: refuse (exit 2, both
 * named). One that serves no project is only warned about.
 */
function warnOnOtherProject(opts: Pick<LocalGatewayOptions, 'ctx' | 'project' | 'warn'>, health: Health): void {
  if (!opts.project || health.ok === false) return
  const expected = projectIdOf(opts.project).id
  const served = health.ok ? health.project : null
  if (served === expected) return
  if (served) {
    throw new UsageError(`the gateway of context "${opts.ctx.name}" (${opts.ctx.url}) serves project "${served}", not "${expected}" (this directory)`, {
      code: 'OTHER_PROJECT',
      hint: "Start this project's gateway with `lobu run` here (`local` then follows it), or pick the right context with -c",
    })
  }
  opts.warn(`Warning: the gateway at ${opts.ctx.url} serves no project, not "${expected}" (this directory): this lobu.toml's agents may be missing there`)
}

/** How long a chat waits for a gateway another process is starting (or stopping). */
const JOIN_TIMEOUT_MS = 10_000
/** A temporary gateway stops once nobody was served for this long (a client between its requests keeps it). */
const IDLE_QUIET_MS = 500

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Wait for the gateway at the context's URL to be ready: 'ready' (it answers 200), 'gone'
 * (nothing answers: whoever was starting or stopping it is done) or 'timeout'.
 */
async function waitUntilReady(opts: LocalGatewayOptions, deadline: number): Promise<'ready' | 'gone' | 'timeout'> {
  while (Date.now() < deadline) {
    if (opts.signal?.aborted) return 'timeout'
    const health = await probeHealth(opts.ctx.url, Math.min(1_000, Math.max(100, deadline - Date.now())), opts.signal)
    if (health === undefined) return 'gone'
    // In a project, ready means recorded in .lobu/gateway.json, which the booting process writes
    // once its token is stored and lobu.toml applied (/health may answer before that).
    if (health.ok !== false && (!opts.project || recorded(opts))) {
      warnOnOtherProject(opts, health)
      return 'ready'
    }
    await sleep(100)
  }
  return 'timeout'
}

function recorded(opts: LocalGatewayOptions): boolean {
  const running = opts.project ? readProjectGateway(opts.project.root) : undefined
  return running !== undefined && running.url === opts.ctx.url
}

function stillStarting(ctx: LocalGatewayOptions['ctx'], cause?: unknown): OperationError {
  return new OperationError(`the gateway at ${ctx.url} did not become ready within ${JOIN_TIMEOUT_MS / 1000} s`, {
    code: 'GATEWAY_STARTING',
    hint: 'Another lobu process is starting or stopping it: retry in a moment, or keep one up with `lobu run`',
    cause,
  })
}

/**
 * Nothing answers on the local URL: boot the embedded gateway, or fail with the `lobu run` hint.
 * When another process is booting (or stopping) the same project's gateway at that moment (its
 * data dir is locked, or the port was just taken), wait for it up to 10 s: use it once ready, or
 * boot again once it is gone.
 */
async function bootEmbedded(opts: LocalGatewayOptions): Promise<EnsuredGateway> {
  const {ctx} = opts
  if (!opts.boot) {
    throw new OperationError(`no gateway answers at ${ctx.url}`, {
      code: 'GATEWAY_UNREACHABLE',
      hint: 'Start it with `lobu run` in your project (or drop --no-boot to start one just for this chat)',
    })
  }
  const deadline = Date.now() + JOIN_TIMEOUT_MS
  let announced = false
  for (;;) {
    try {
      return await bootOnce(opts, !announced)
    } catch (error) {
      const code = errorCode(error)
      if (code !== 'DATA_DIR_LOCKED' && code !== 'PORT_IN_USE') throw error
      if (!announced) opts.note(`Another lobu process is starting or stopping the gateway at ${ctx.url}: waiting for it (up to ${JOIN_TIMEOUT_MS / 1000} s)`)
      announced = true
      const state = await waitUntilReady(opts, deadline)
      if (state === 'ready') return {booted: false}
      if (state === 'timeout') throw stillStarting(ctx, error)
      await sleep(100) // gone: boot it ourselves
    }
  }
}

async function bootOnce(opts: LocalGatewayOptions, announce: boolean): Promise<EnsuredGateway> {
  const {ctx, project} = opts
  const port = Number(new URL(ctx.url).port) || 80
  if (announce) opts.note(`No gateway at ${ctx.url}: starting an embedded one for this chat (keep one running with \`lobu run\`)`)
  const {bootLocalGateway} = await import('../embedded/boot.js')
  const booted = await bootLocalGateway({
    project,
    port,
    env: opts.env ?? process.env,
    version: opts.version,
    log: opts.verbose ? opts.note : undefined,
    logger: (level, msg) => {
      if (level === 'error' || opts.verbose) process.stderr.write(`[gateway] ${level}: ${msg}\n`)
    },
    logRequests: Boolean(opts.verbose),
  })
  return {
    booted: true,
    // Other shells' chats may be using this gateway (it is in .lobu/gateway.json): it stops
    // once every turn it serves has ended (Ctrl-C stops it at once).
    close: async () => {
      const {requests} = booted.gateway.inFlight()
      if (requests > 0) opts.note(`Keeping the embedded gateway up until the ${requests === 1 ? 'turn' : `${requests} requests`} of other shells ${requests === 1 ? 'ends' : 'end'}…`)
      await booted.gateway.whenIdle(IDLE_QUIET_MS, opts.signal)
      await booted.close()
    },
  }
}

export async function ensureLocalGateway(opts: LocalGatewayOptions): Promise<EnsuredGateway> {
  const {ctx} = opts
  if (ctx.name !== 'local' || !isLoopbackUrl(ctx.url)) return {booted: false}

  const health = await probeHealth(ctx.url, opts.healthTimeoutMs)
  if (health?.ok === false) {
    // Starting (another chat's embedded boot, a `lobu run`) or stopping: wait, then use or boot.
    const state = await waitUntilReady(opts, Date.now() + JOIN_TIMEOUT_MS)
    if (state === 'ready') return {booted: false}
    if (state === 'timeout') throw stillStarting(ctx)
    return bootEmbedded(opts)
  }
  if (health) {
    warnOnOtherProject(opts, health)
    return {booted: false}
  }
  return bootEmbedded(opts)
}

export interface LocalSessionOptions<T> extends LocalGatewayOptions {
  /** The API client; `fresh` asks for a new one (after a boot, which stores a new token). */
  client(fresh?: boolean): Promise<ApiClient>
  /** The first request of the chat (creating the session). */
  open(client: ApiClient, signal: AbortSignal): Promise<T>
  /** Ctrl-C. */
  signal: AbortSignal
}

export interface LocalSession<T> {
  gateway: EnsuredGateway
  client: ApiClient
  result: T
}

type Settled<T> = {ok: true; value: T} | {ok: false; error: unknown}

const settle = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    (value) => ({ok: true, value}),
    (error: unknown) => ({ok: false, error}),
  )

function errorCode(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | null)?.code
  return typeof code === 'string' ? code : undefined
}

/**
 * The first request of a chat on the `local` context, without a /health round trip before it:
 * the request goes out at once, /health is asked at the same time (which project is served; is it
 * a Lobu gateway at all). When nothing answers (connection refused, or /health times out while
 * the request waits), the embedded gateway is booted as `ensureLocalGateway` does and the
 * request is sent again with a fresh client. Without a token for the context, the check comes
 * first (a booted gateway stores one).
 */
export async function openLocalSession<T>(opts: LocalSessionOptions<T>): Promise<LocalSession<T>> {
  // In a project whose gateway.json names no live gateway, the port may be another project's:
  // ask /health first, so nothing is sent to that project's gateway.
  if (opts.project && opts.ctx.project && !opts.ctx.project.fromGatewayFile) return openOn(await ensureLocalGateway(opts), opts)
  let client: ApiClient
  try {
    client = await opts.client()
  } catch (error) {
    if (errorCode(error) !== 'NO_TOKEN') throw error
    return openOn(await ensureLocalGateway(opts), opts)
  }

  const stop = new AbortController()
  const signal = AbortSignal.any([opts.signal, stop.signal])
  let nothingAnswers = false
  const health = settle(
    probeHealth(opts.ctx.url, opts.healthTimeoutMs, opts.signal).then((h) => {
      // /health timed out or was refused: do not wait for the request either.
      if (!h) {
        nothingAnswers = true
        stop.abort()
      }
      return h
    }),
  )
  const first = await settle(opts.open(client, signal))
  if (!first.ok && opts.signal.aborted) throw first.error // Ctrl-C
  const checked = await health
  if (first.ok) {
    if (checked.ok && checked.value) warnOnOtherProject(opts, checked.value)
    return {gateway: {booted: false}, client, result: first.value}
  }
  if (!checked.ok) throw checked.error // something that is not a Lobu gateway answers
  // 503: a gateway starting or stopping there: wait for it (or boot once it is gone).
  if (checked.value?.ok === false || (first.error as {status?: number} | null)?.status === 503) return openOn(await ensureLocalGateway(opts), opts)
  const unreachable = nothingAnswers || errorCode(first.error) === 'GATEWAY_UNREACHABLE'
  if (!unreachable || checked.value) throw first.error

  return openOn(await bootEmbedded(opts), opts)
}

/** Open the session on a gateway this process booted (or found), closing it when that fails. */
async function openOn<T>(gateway: EnsuredGateway, opts: LocalSessionOptions<T>): Promise<LocalSession<T>> {
  try {
    const client = await opts.client(true)
    return {gateway, client, result: await opts.open(client, opts.signal)}
  } catch (error) {
    await gateway.close?.()
    throw error
  }
}

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
}

export interface EnsuredGateway {
  /** Set when this process booted the gateway: close it when done. */
  close?: () => Promise<void>
  booted: boolean
}

export interface Health {
  ok?: boolean
  version?: string
  project?: string | null
}

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
  const served = health.project ?? null
  if (served === expected) return
  if (served) {
    throw new UsageError(`the gateway of context "${opts.ctx.name}" (${opts.ctx.url}) serves project "${served}", not "${expected}" (this directory)`, {
      code: 'OTHER_PROJECT',
      hint: "Start this project's gateway with `lobu run` here (`local` then follows it), or pick the right context with -c",
    })
  }
  opts.warn(`Warning: the gateway at ${opts.ctx.url} serves no project, not "${expected}" (this directory): this lobu.toml's agents may be missing there`)
}

/** Nothing answers on the local URL: boot the embedded gateway, or fail with the `lobu run` hint. */
async function bootEmbedded(opts: LocalGatewayOptions): Promise<EnsuredGateway> {
  const {ctx, project} = opts
  if (!opts.boot) {
    throw new OperationError(`no gateway answers at ${ctx.url}`, {
      code: 'GATEWAY_UNREACHABLE',
      hint: 'Start it with `lobu run` in your project (or drop --no-boot to start one just for this chat)',
    })
  }

  const port = Number(new URL(ctx.url).port) || 80
  opts.note(`No gateway at ${ctx.url}: starting an embedded one for this chat (keep one running with \`lobu run\`)`)
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
  return {booted: true, close: () => booted.close()}
}

export async function ensureLocalGateway(opts: LocalGatewayOptions): Promise<EnsuredGateway> {
  const {ctx} = opts
  if (ctx.name !== 'local' || !isLoopbackUrl(ctx.url)) return {booted: false}

  const health = await probeHealth(ctx.url, opts.healthTimeoutMs)
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

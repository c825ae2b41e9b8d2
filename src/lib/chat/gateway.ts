/**
 * Making sure a gateway answers before chatting. For the `local` context: if something answers
 * at its URL, check which project it serves (warn when it is another one); if nothing answers,
 * boot the embedded gateway inside this process (same data dir, lock and auto-apply as
 * `lobu run`), unless --no-boot.
 */
import path from 'node:path'

import {OperationError} from '../cli/errors.js'
import type {Project} from '../config/index.js'
import type {ResolvedContext} from '../context/index.js'

export interface LocalGatewayOptions {
  ctx: Pick<ResolvedContext, 'name' | 'url'>
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

interface Health {
  ok?: boolean
  version?: string
  project?: string | null
}

/** The id a gateway reports in /health for this project (as `lobu run` computes it). */
export function projectHealthId(project: Project): string {
  return project.config.project?.id ?? path.basename(project.root)
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.')
}

/** GET /health without a token: the answer, or undefined when nothing answers. */
export async function probeHealth(url: string, timeoutMs = 2_000): Promise<Health | undefined> {
  const {ApiClient} = await import('../client/index.js')
  const client = new ApiClient({baseUrl: url})
  try {
    return await client.get<Health>('/health', undefined, {signal: AbortSignal.timeout(timeoutMs)})
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

export async function ensureLocalGateway(opts: LocalGatewayOptions): Promise<EnsuredGateway> {
  const {ctx, project} = opts
  if (ctx.name !== 'local' || !isLoopbackUrl(ctx.url)) return {booted: false}

  const health = await probeHealth(ctx.url, opts.healthTimeoutMs)
  if (health) {
    if (project) {
      const expected = projectHealthId(project)
      const served = health.project ?? null
      if (served !== expected) {
        opts.warn(
          served
            ? `Warning: the gateway at ${ctx.url} serves project "${served}", not "${expected}" (this directory): its agents may differ from this lobu.toml`
            : `Warning: the gateway at ${ctx.url} serves no project, not "${expected}" (this directory): this lobu.toml's agents may be missing there`,
        )
      }
    }
    return {booted: false}
  }

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
  })
  return {booted: true, close: () => booted.close()}
}

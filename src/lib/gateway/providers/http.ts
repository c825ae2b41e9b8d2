/**
 * HTTP plumbing shared by the dialects: one undici Agent (keep-alive pool per origin),
 * Retry-After parsing, abortable sleep, and the idle watchdog behind `timeoutMs`.
 */
import type {Agent} from 'undici'

type Undici = typeof import('undici')

let loadingUndici: Promise<Undici> | undefined
let agent: Agent | undefined

/**
 * undici, loaded on first use: importing it costs ~0.1 s of the main thread, which a booting
 * gateway should not pay before it answers. The gateway warms it right after it is ready.
 */
export function loadUndici(): Promise<Undici> {
  return (loadingUndici ??= import('undici'))
}

/**
 * The shared dispatcher. Connections to a provider are kept alive between turns; undici's own
 * header/body timeouts are off because the watchdog below enforces the per-turn idle timeout.
 */
export function providerAgent(mod: Undici): Agent {
  agent ??= new mod.Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: {timeout: 15_000},
  })
  return agent
}

/** Closes the shared pool (gateway shutdown, tests). A later turn creates a new one. */
export async function closeProviderAgent(): Promise<void> {
  const current = agent
  agent = undefined
  if (current) await current.close().catch(() => current.destroy())
}

/** The longest Retry-After we wait for; a longer one fails the turn at once (nobody waits minutes in a chat). */
export const MAX_RETRY_WAIT_MS = 20_000

/**
 * Retry-After as milliseconds: `retry-after-ms` (OpenAI), `retry-after` in seconds or as an
 * HTTP date. Undefined when absent or unreadable.
 */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>, now: number = Date.now()): number | undefined {
  const pick = (name: string): string | undefined => {
    const value = headers[name]
    return Array.isArray(value) ? value[0] : value
  }
  const ms = pick('retry-after-ms')
  if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.max(0, Math.round(Number(ms)))
  const value = pick('retry-after')?.trim()
  if (!value) return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.max(0, Math.round(Number(value) * 1000))
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** Exponential backoff with jitter for retry `attempt` (0-based) when the provider gave no Retry-After. */
export function backoffMs(attempt: number): number {
  const base = 500 * 2 ** attempt
  return Math.round(base * (0.8 + Math.random() * 0.4))
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, {once: true})
  })
}

/**
 * Aborts the HTTP request when the caller's signal aborts or when nothing arrives for `idleMs`.
 * Paused while the consumer holds a yielded event, so a slow consumer is not a slow provider.
 *
 * Something arriving only notes the time: the one timer checks, when it fires, how long the
 * stream has really been idle and sleeps again for the rest (no timer reset per chunk).
 */
export class Watchdog {
  readonly signal: AbortSignal
  timedOut = false
  private readonly controller = new AbortController()
  private timer: NodeJS.Timeout | undefined
  /** performance.now() of the last sign of life (or of the end of a pause). */
  private last = 0
  private paused = false
  private disposed = false
  private readonly onParentAbort = (): void => this.controller.abort(this.parent.reason)
  private readonly onTimer = (): void => {
    this.timer = undefined
    if (this.paused || this.disposed || this.controller.signal.aborted) return
    const idle = performance.now() - this.last
    // Timers may fire a fraction of a millisecond early: that is not worth another wait.
    if (idle + 1 >= this.idleMs) {
      this.timedOut = true
      this.controller.abort(new Error('idle timeout'))
    } else {
      this.schedule(this.idleMs - idle)
    }
  }

  constructor(
    private readonly parent: AbortSignal,
    private readonly idleMs: number,
  ) {
    this.signal = this.controller.signal
    if (parent.aborted) this.controller.abort(parent.reason)
    else parent.addEventListener('abort', this.onParentAbort, {once: true})
    this.resume()
  }

  /** Something arrived: restart the idle clock. */
  touch(): void {
    if (!this.paused) this.last = performance.now()
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.last = performance.now()
    if (this.timer === undefined) this.schedule(this.idleMs)
  }

  dispose(): void {
    this.disposed = true
    this.paused = true
    clearTimeout(this.timer)
    this.timer = undefined
    this.parent.removeEventListener('abort', this.onParentAbort)
  }

  private schedule(ms: number): void {
    if (this.disposed || !(this.idleMs > 0) || !Number.isFinite(this.idleMs) || this.controller.signal.aborted) return
    this.timer = setTimeout(this.onTimer, ms)
  }
}

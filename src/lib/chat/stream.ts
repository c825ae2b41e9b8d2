/**
 * Following one turn from the CLI: POST the message with `Accept: text/event-stream` (the
 * response is this turn's stream), keep only the events of this turn's messageId, stop at its
 * terminal event. A dropped stream is resumed on `/events` with `Last-Event-ID`; no event for
 * the idle timeout is an error, never a silent success.
 */
import {LobuError, OperationError} from '../core/errors.js'
import type {ApiClient, SseEvent} from '../client/index.js'
import type {PostMessageRequest} from '../contract/api.js'

export interface ChatEvent {
  id?: string
  event: string
  data: Record<string, unknown>
}

export interface FollowOptions {
  client: ApiClient
  sessionKey: string
  content: string
  dryRun?: boolean
  /** Idle timeout: the longest wait for the next event. */
  idleMs: number
  /** Ctrl-C. */
  signal: AbortSignal
  /**
   * Each event of the turn. When it returns a promise (a question to the user, a decision to send)
   * the stream is not read until it settles, and that time does not count as idle.
   */
  onEvent(event: ChatEvent): void | Promise<void>
  /** Told before each reconnect attempt. */
  onReconnect?(attempt: number): void
  /** Reconnect attempts after a drop (default 3); each event received resets the count. */
  maxReconnects?: number
  /** Delay before reconnect attempt n (1-based). */
  reconnectDelayMs?: (attempt: number) => number
}

/** Ctrl-C during a turn (exit 130). */
export class ChatInterrupted extends LobuError {
  constructor() {
    super('interrupted', 'interrupted', {code: 'INTERRUPTED'})
  }
}

export function idleTimeoutError(seconds: number): OperationError {
  return new OperationError(`no event for ${seconds} s`, {
    code: 'IDLE_TIMEOUT',
    hint: 'The gateway or the provider stopped answering; try again, or allow longer with --timeout SECONDS',
  })
}

const isTerminal = (event: string) => event === 'done' || event === 'error'

function parseData(raw: string): Record<string, unknown> {
  try {
    const value = JSON.parse(raw) as unknown
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {value}
  } catch {
    return {text: raw}
  }
}

function isAbortError(err: unknown): boolean {
  return (err as {name?: string} | null)?.name === 'AbortError'
}

/** A broken stream, or (when resuming) a gateway that cannot be reached for a moment. */
function isDrop(err: unknown, resuming: boolean): boolean {
  return err instanceof LobuError && (err.code === 'STREAM_INTERRUPTED' || (resuming && err.code === 'GATEWAY_UNREACHABLE'))
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve()
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), {once: true})
  })

/** Send the message and follow its turn to the terminal event, which is returned. */
export async function followTurn(opts: FollowOptions): Promise<ChatEvent> {
  const maxReconnects = opts.maxReconnects ?? 3
  const delay = opts.reconnectDelayMs ?? ((n: number) => (n === 1 ? 0 : 500 * 2 ** (n - 2)))
  let messageId: string | undefined
  let lastEventId: string | undefined
  let reconnects = 0

  for (let attempt = 0; ; attempt++) {
    const local = new AbortController()
    let idle = false
    let timer: NodeJS.Timeout | undefined
    const arm = () => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        idle = true
        local.abort()
      }, opts.idleMs)
    }
    const onAbort = () => local.abort()
    opts.signal.addEventListener('abort', onAbort, {once: true})
    arm()
    try {
      const source: AsyncIterable<SseEvent> =
        attempt === 0
          ? opts.client.stream(`/api/v1/sessions/${encodeURIComponent(opts.sessionKey)}/messages`, {
              method: 'POST',
              body: (opts.dryRun ? {content: opts.content, dryRun: true} : {content: opts.content}) satisfies PostMessageRequest,
              signal: local.signal,
            })
          : opts.client.stream(`/api/v1/sessions/${encodeURIComponent(opts.sessionKey)}/events`, {lastEventId, signal: local.signal})
      for await (const raw of source) {
        arm()
        const data = parseData(raw.data)
        const id = typeof data.messageId === 'string' ? data.messageId : undefined
        // The per-message stream carries only this turn: its first event names it.
        if (attempt === 0 && messageId === undefined && id !== undefined) messageId = id
        if (id === undefined || id !== messageId) continue
        if (raw.id !== undefined) lastEventId = raw.id
        reconnects = 0
        const event: ChatEvent = {event: raw.event, data}
        if (raw.id !== undefined) event.id = raw.id
        const handled = opts.onEvent(event)
        if (handled) {
          clearTimeout(timer)
          await handled
          arm()
        }
        if (isTerminal(raw.event)) return event
        if (opts.signal.aborted) throw new ChatInterrupted()
      }
      // The stream ended without a terminal event: treat it as a drop.
    } catch (err) {
      if (err instanceof ChatInterrupted || opts.signal.aborted) throw new ChatInterrupted()
      if (idle) throw idleTimeoutError(Math.round(opts.idleMs / 1000))
      if (!isDrop(err, attempt > 0) && !isAbortError(err)) throw err
    } finally {
      clearTimeout(timer)
      opts.signal.removeEventListener('abort', onAbort)
      local.abort()
    }
    if (opts.signal.aborted) throw new ChatInterrupted()
    if (messageId === undefined || lastEventId === undefined) {
      throw new OperationError('the event stream ended before the turn started', {
        code: 'STREAM_INTERRUPTED',
        hint: 'Check the gateway (is it still running?) and try again',
      })
    }
    reconnects++
    if (reconnects > maxReconnects) {
      throw new OperationError(`the event stream dropped and ${maxReconnects} reconnects failed`, {
        code: 'STREAM_INTERRUPTED',
        hint: 'Check the gateway (is it still running?); the reply so far is in the session history',
      })
    }
    opts.onReconnect?.(reconnects)
    await sleep(delay(reconnects), opts.signal)
    if (opts.signal.aborted) throw new ChatInterrupted()
  }
}

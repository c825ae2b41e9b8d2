/**
 * Attempt limits of the device login (docs/SECURITY.md, "Attempt limits"): every attempt is
 * counted BEFORE any work is done for it, by one atomic upsert in the store (`oauth_attempts`),
 * so a burst of concurrent requests cannot all pass a check that a later write would have
 * failed, and gateways sharing one PostgreSQL share the counts. Password hashes run through a
 * small gate: at most 2 at once, a bounded queue, "busy" beyond it.
 */
import {oauthRepo} from '../store/repos/oauth.js'
import type {StoreTx} from '../store/types.js'
import {sha256Hex} from './codes.js'

export interface Limit {
  /** Key prefix, e.g. `email`. */
  readonly name: string
  readonly max: number
  readonly windowMs: number
}

const MINUTE = 60_000

/** Password attempts for one email, one user code, one client address. */
export const EMAIL_ATTEMPTS: Limit = {name: 'email', max: 10, windowMs: 15 * MINUTE}
export const CODE_ATTEMPTS: Limit = {name: 'code', max: 5, windowMs: 15 * MINUTE}
export const ADDRESS_ATTEMPTS: Limit = {name: 'addr-login', max: 30, windowMs: 15 * MINUTE}
/** Anonymous requests per client address: new device codes, code look-ups on the page. */
export const ADDRESS_CODES: Limit = {name: 'addr-code', max: 30, windowMs: MINUTE}
export const ADDRESS_LOOKUPS: Limit = {name: 'addr-lookup', max: 30, windowMs: MINUTE}

export type LimitResult = {ok: true; count: number} | {ok: false; count: number; retryAfterSeconds: number}

/** Count one attempt of `subject` under `limit` (atomically) and say whether it may go on. */
export async function countAttempt(store: StoreTx, limit: Limit, subject: string, now: Date): Promise<LimitResult> {
  const key = `${limit.name}:${sha256Hex(subject)}`
  const {count, windowStart} = await oauthRepo(store.sql).countAttempt(key, now, new Date(now.getTime() - limit.windowMs))
  if (count <= limit.max) return {ok: true, count}
  const retryAfterSeconds = Math.max(1, Math.ceil((windowStart.getTime() + limit.windowMs - now.getTime()) / 1000))
  return {ok: false, count, retryAfterSeconds}
}

/** Forget an email's count after a successful login. */
export async function clearAttempts(store: StoreTx, limit: Limit, subject: string): Promise<void> {
  await oauthRepo(store.sql).clearFailures(`${limit.name}:${sha256Hex(subject)}`)
}

/** Too many password hashes waiting: the caller answers 503. */
export class HashGateBusy extends Error {}

/**
 * Runs at most `concurrency` password checks at once (scrypt costs 16+ MiB and tens of ms each);
 * up to `queue` more wait their turn; beyond that `run` throws HashGateBusy at once.
 */
export class HashGate {
  #running = 0
  readonly #waiting: Array<() => void> = []

  constructor(
    readonly concurrency = 2,
    readonly queue = 8,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.concurrency) {
      if (this.#waiting.length >= this.queue) throw new HashGateBusy('too many password checks at once')
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
    } else {
      this.#running++
    }
    try {
      return await fn()
    } finally {
      const next = this.#waiting.shift()
      if (next) next()
      else this.#running--
    }
  }
}

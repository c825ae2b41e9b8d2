/**
 * Token lifetimes: `30d`, `12h`, `45m`, `90s`, `2w`, `never`, or a number of seconds.
 * Dependency-free so the CLI can validate `--expires-in` before calling the gateway.
 */
const UNIT_SECONDS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86_400, w: 604_800}

/** Upper bound on a lifetime (10 years): keeps dates sane; use `never` for no expiry. */
export const MAX_LIFETIME_SECONDS = 10 * 365 * 86_400

export const DEFAULT_EXPIRES_IN = '90d'

export class InvalidExpiryError extends Error {
  constructor(readonly input: string) {
    super(`invalid expiry "${input}": use a duration like 30d, 12h, 45m, a number of seconds, or "never" (at most 10 years)`)
    this.name = 'InvalidExpiryError'
  }
}

/** Seconds of lifetime, or null for `never`. Throws InvalidExpiryError. */
export function parseExpiresIn(value: string | number): number | null {
  let seconds: number
  if (typeof value === 'number') {
    seconds = value
  } else {
    const text = value.trim().toLowerCase()
    if (text === 'never') return null
    const match = /^(\d{1,12})([smhdw]?)$/.exec(text)
    if (!match) throw new InvalidExpiryError(value)
    seconds = Number(match[1]) * UNIT_SECONDS[match[2] || 's']
  }
  if (!Number.isSafeInteger(seconds) || seconds <= 0 || seconds > MAX_LIFETIME_SECONDS) throw new InvalidExpiryError(String(value))
  return seconds
}

/** The expiry date for a lifetime starting at `now`, or null for `never`. */
export function expiryDate(value: string | number, now: Date = new Date()): Date | null {
  const seconds = parseExpiresIn(value)
  return seconds === null ? null : new Date(now.getTime() + seconds * 1000)
}

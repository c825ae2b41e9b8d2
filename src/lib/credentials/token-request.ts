import {hostname} from 'node:os'

import {UsageError} from '../core/errors.js'

export const DEFAULT_EXPIRES_IN = '90d'

const MAX_HOURS = 10 * 365 * 24

/**
 * Validate `--expires-in`: `<N>d`, `<N>h` or `never` (at most 10 years). Returns the normalised
 * value sent to the gateway as `expiresIn`, and the lifetime in seconds (null for never).
 */
export function parseExpiresIn(value: string): {expiresIn: string; seconds: number | null} {
  const v = value.trim().toLowerCase()
  if (v === 'never') return {expiresIn: 'never', seconds: null}
  const m = /^(\d{1,6})([dh])$/.exec(v)
  const hours = m ? Number(m[1]) * (m[2] === 'd' ? 24 : 1) : 0
  if (!m || hours < 1 || hours > MAX_HOURS) {
    throw new UsageError(`invalid --expires-in "${value}"`, {
      code: 'INVALID_EXPIRY',
      hint: 'Use a number of days or hours, or never: 30d, 12h, never (at most 3650d)',
    })
  }
  return {expiresIn: `${Number(m[1])}${m[2]}`, seconds: hours * 3600}
}

/** `cli-<hostname>-<YYYY-MM-DD>`, the default name of `lobu token create`. */
export function defaultTokenName(now: Date = new Date(), host: string = hostname()): string {
  const slug =
    host
      .toLowerCase()
      .split('.')[0]!
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'host'
  const pad = (n: number) => String(n).padStart(2, '0')
  return `cli-${slug}-${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`
}

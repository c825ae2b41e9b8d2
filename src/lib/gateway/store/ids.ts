import {randomBytes} from 'node:crypto'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/**
 * `length` characters drawn uniformly from [0-9A-Za-z] (rejection sampling, no modulo bias).
 * 22 characters carry ~131 bits; 43 carry ~256 bits.
 */
export function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.3) + 8)
    for (const b of bytes) {
      // 248 = 62 * 4: bytes at or above it would favour the first characters.
      if (b < 248) out += BASE62[b % 62]
      if (out.length === length) break
    }
  }
  return out
}

export type IdPrefix = 'org' | 'usr' | 'tok' | (string & {})

/** An opaque id: prefix, underscore, 22 base62 characters (e.g. `org_4Kq…`). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(22)}`
}

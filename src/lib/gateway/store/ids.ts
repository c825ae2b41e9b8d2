import {randomFillSync} from 'node:crypto'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/**
 * Random bytes drawn from the CSPRNG a pool at a time (one call per POOL_BYTES instead of one
 * per id: ids are made per request). Each byte is handed out once.
 */
const POOL_BYTES = 4096
const pool = Buffer.alloc(POOL_BYTES)
let used = POOL_BYTES

function nextByte(): number {
  if (used === POOL_BYTES) {
    randomFillSync(pool)
    used = 0
  }
  return pool[used++]!
}

/**
 * `length` characters drawn uniformly from [0-9A-Za-z] (rejection sampling, no modulo bias).
 * 22 characters carry ~131 bits; 43 carry ~256 bits.
 */
export function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    const b = nextByte()
    // 248 = 62 * 4: bytes at or above it would favour the first characters.
    if (b < 248) out += BASE62[b % 62]
  }
  return out
}

export type IdPrefix = 'org' | 'usr' | 'tok' | (string & {})

/** An opaque id: prefix, underscore, 22 base62 characters (e.g. `org_4Kq…`). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(22)}`
}

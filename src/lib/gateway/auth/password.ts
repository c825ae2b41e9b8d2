/**
 * Password hashing with scrypt (node:crypto). The hash string carries its parameters and salt:
 * `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`, so parameters can be raised later without
 * breaking stored hashes.
 */
import {randomBytes, scrypt, timingSafeEqual, type ScryptOptions} from 'node:crypto'

const N = 16_384
const R = 8
const P = 1
const KEY_LENGTH = 32
const SALT_BYTES = 16

export const MIN_PASSWORD_LENGTH = 8

function derive(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, KEY_LENGTH, {N, r: R, p: P, maxmem: 64 * 1024 * 1024})
  return ['scrypt', N, R, P, salt.toString('base64'), key.toString('base64')].join('$')
}

/** True when `password` matches `stored`; false for a wrong password or an unreadable hash. */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  if (!stored) return false
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [n, r, p] = parts.slice(1, 4).map(Number)
  if (![n, r, p].every((v) => Number.isSafeInteger(v) && v > 0) || n > 1 << 20 || r > 64 || p > 16) return false
  const salt = Buffer.from(parts[4], 'base64')
  const expected = Buffer.from(parts[5], 'base64')
  if (salt.length === 0 || expected.length === 0) return false
  const actual = await derive(password, salt, expected.length, {N: n, r, p, maxmem: 256 * n * r + 1024 * 1024})
  return timingSafeEqual(actual, expected)
}

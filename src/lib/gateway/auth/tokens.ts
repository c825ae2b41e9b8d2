/**
 * Personal access tokens: `lobu_pat_` + 43 base62 characters from crypto.randomBytes
 * (43 × log2(62) ≈ 256 bits). Only the hex SHA-256 of a token is ever stored (docs/SECURITY.md S1).
 */
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'

export const TOKEN_PREFIX = 'lobu_pat_'
export const TOKEN_BODY_LENGTH = 43
export const TOKEN_PATTERN = /^lobu_pat_[0-9A-Za-z]{43}$/

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
/** Largest multiple of 62 that fits in a byte: bytes at or above it are rejected (no modulo bias). */
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length)

export function generateToken(): string {
  let body = ''
  while (body.length < TOKEN_BODY_LENGTH) {
    for (const byte of randomBytes(64)) {
      if (byte >= UNBIASED_LIMIT) continue
      body += ALPHABET[byte % ALPHABET.length]
      if (body.length === TOKEN_BODY_LENGTH) break
    }
  }
  return TOKEN_PREFIX + body
}

export function isTokenFormat(value: string): boolean {
  return TOKEN_PATTERN.test(value)
}

/** Hex SHA-256 of a token: the only form in which tokens are stored and looked up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** Constant-time comparison of two hex SHA-256 digests. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex')
  const right = Buffer.from(b, 'hex')
  if (left.length !== 32 || right.length !== 32) return false
  return timingSafeEqual(left, right)
}

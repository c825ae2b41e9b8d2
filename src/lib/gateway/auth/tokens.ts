/**
 * Personal access tokens: `lobu_pat_` + 43 base62 characters from crypto.randomBytes
 * (43 × log2(62) ≈ 256 bits). Only the hex SHA-256 of a token is ever stored (docs/SECURITY.md S1).
 */
import {createHash, timingSafeEqual} from 'node:crypto'

import {randomChars} from '../crypto/random.js'

export const TOKEN_PREFIX = 'lobu_pat_'
export const TOKEN_BODY_LENGTH = 43
export const TOKEN_PATTERN = /^lobu_pat_[0-9A-Za-z]{43}$/

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

export function generateToken(): string {
  return TOKEN_PREFIX + randomChars(ALPHABET, TOKEN_BODY_LENGTH)
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

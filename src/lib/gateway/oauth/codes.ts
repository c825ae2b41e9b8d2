/**
 * Random codes of the OAuth flows and their stored forms.
 *
 * - device codes, states and PKCE verifiers: 32 random bytes, base64url (43 characters, 256 bits);
 * - user codes (RFC 8628 §6.1): 8 characters of an alphabet without vowels or look-alikes
 *   (20^8 ≈ 2^34.6), shown as `XXXX-XXXX`; typed input is normalised (case, dashes, spaces);
 * - only SHA-256 digests of device codes, user codes and states are stored.
 */
import {createHash, randomBytes} from 'node:crypto'

import {randomChars} from '../crypto/random.js'

/** Consonants only: no vowels (no words), no 0/O, 1/I/L look-alikes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'
export const USER_CODE_LENGTH = 8

/** 256-bit random string, base64url without padding (also a valid RFC 7636 verifier). */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url')
}

/** A fresh user code, `XXXX-XXXX`. Rejection sampling: every character equally likely. */
export function newUserCode(): string {
  return formatUserCode(randomChars(USER_CODE_ALPHABET, USER_CODE_LENGTH))
}

/** `ABCDEFGH` → `ABCD-EFGH`. */
export function formatUserCode(normalized: string): string {
  return `${normalized.slice(0, 4)}-${normalized.slice(4)}`
}

/**
 * What the user typed, as the 8 code characters (upper case, separators removed), or undefined
 * when it cannot be a user code.
 */
export function normalizeUserCode(input: string | undefined | null): string | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined
  const code = input.toUpperCase().replace(/[\s-]+/g, '')
  if (code.length !== USER_CODE_LENGTH) return undefined
  for (const ch of code) if (!USER_CODE_ALPHABET.includes(ch)) return undefined
  return code
}

/** Hex SHA-256 of a string: the stored form of codes and states. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex')
}

/** Stored form of a user code (normalised first). */
export function userCodeHash(normalized: string): string {
  return sha256Hex(`user-code:${normalized}`)
}

/** RFC 7636 S256 challenge of a verifier. */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url')
}

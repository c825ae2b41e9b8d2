import {randomBytes} from 'node:crypto'

/**
 * `length` characters drawn uniformly from `alphabet` (fewer than 256 characters) with fresh
 * CSPRNG bytes: bytes at or above the largest multiple of the alphabet's size that fits in a
 * byte are rejected, so no character is favoured (no modulo bias).
 */
export function randomChars(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length)
  let out = ''
  while (out.length < length) {
    for (const byte of randomBytes(Math.max(16, length + (length >> 1)))) {
      if (byte >= limit) continue
      out += alphabet[byte % alphabet.length]
      if (out.length === length) break
    }
  }
  return out
}

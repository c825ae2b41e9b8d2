import {createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes} from 'node:crypto'

import {KEY_BYTES} from './install-key.js'

/**
 * Secrets at rest (docs/SECURITY.md S6): AES-256-GCM under the install key, stored as
 * `v1:` + base64(iv[12] | tag[16] | ciphertext). Keyed hashes (HMAC-SHA256 under a key
 * derived from the install key with HKDF) let apply compare values without decrypting.
 */
const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16

export class SecretDecryptionError extends Error {
  constructor(reason: string) {
    super(`cannot decrypt a stored secret: ${reason}`)
    this.name = 'SecretDecryptionError'
  }
}

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new TypeError('the install key must be 32 bytes')
}

/**
 * Encrypt a secret. `context` (optional) is bound as additional authenticated data: the
 * same context must be given to decrypt (e.g. "org_…/OPENAI_API_KEY" to pin a row).
 */
export function encryptSecret(key: Buffer, plaintext: string, context?: string): string {
  checkKey(key)
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  if (context !== undefined) cipher.setAAD(Buffer.from(context, 'utf8'))
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64')}`
}

/** Decrypt what encryptSecret produced. Throws SecretDecryptionError when tampered or under another key. */
export function decryptSecret(key: Buffer, ciphertext: string, context?: string): string {
  checkKey(key)
  const sep = ciphertext.indexOf(':')
  const version = sep === -1 ? '' : ciphertext.slice(0, sep)
  if (version !== VERSION) throw new SecretDecryptionError(`unknown format ${version ? `"${version}"` : '(no version)'}`)
  const body = Buffer.from(ciphertext.slice(sep + 1), 'base64')
  if (body.length < IV_BYTES + TAG_BYTES) throw new SecretDecryptionError('too short')
  const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES))
  decipher.setAuthTag(body.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
  if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'))
  try {
    return Buffer.concat([decipher.update(body.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
  } catch {
    throw new SecretDecryptionError('it was modified, or encrypted under another install key')
  }
}

const hashKeys = new WeakMap<Buffer, Buffer>()

function hashKey(key: Buffer): Buffer {
  let derived = hashKeys.get(key)
  if (!derived) {
    derived = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'lobu keyed-hash v1', 32))
    hashKeys.set(key, derived)
  }
  return derived
}

/** HMAC-SHA256 of value under a key derived from the install key, hex (64 characters). */
export function keyedHash(key: Buffer, value: string): string {
  checkKey(key)
  return createHmac('sha256', hashKey(key)).update(value, 'utf8').digest('hex')
}

import {createHash, createHmac, randomBytes} from 'node:crypto'
import {chmod, mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {
  InvalidEncryptionKeyError,
  KEY_FILE,
  SecretDecryptionError,
  decryptSecret,
  encryptSecret,
  keyedHash,
  loadInstallKey,
  parseInstallKey,
  resolveInstallKey,
} from '../../../../src/lib/gateway/crypto/index.js'
import type {Store} from '../../../../src/lib/gateway/store/types.js'
import {storeDrivers} from '../../../support/store.js'

const key = randomBytes(32)

describe('encryptSecret / decryptSecret (AES-256-GCM)', () => {
  it('round-trips, with a fresh IV each time and a versioned format', () => {
    for (const plaintext of ['sk-test-1234567890', '', 'ünïcødé ✓ 🔑', 'x'.repeat(10_000)]) {
      const a = encryptSecret(key, plaintext)
      const b = encryptSecret(key, plaintext)
      expect(a).toMatch(/^v1:[A-Za-z0-9+/]+=*$/)
      expect(a).not.toBe(b)
      expect(decryptSecret(key, a)).toBe(plaintext)
      expect(decryptSecret(key, b)).toBe(plaintext)
      // iv(12) + tag(16) + data
      expect(Buffer.from(a.slice(3), 'base64').length).toBe(28 + Buffer.byteLength(plaintext))
    }
  })

  it('never contains the plaintext', () => {
    const plaintext = 'sk-live-abcdefghijklmnop'
    const ct = encryptSecret(key, plaintext)
    expect(ct).not.toContain(plaintext)
    expect(Buffer.from(ct.slice(3), 'base64').toString('latin1')).not.toContain(plaintext)
  })

  it('detects tampering with the IV, the tag or the data', () => {
    const ct = encryptSecret(key, 'sk-test-value')
    const body = Buffer.from(ct.slice(3), 'base64')
    for (const index of [0, 12, 28, body.length - 1]) {
      const tampered = Buffer.from(body)
      tampered[index] = tampered[index]! ^ 0x01
      expect(() => decryptSecret(key, `v1:${tampered.toString('base64')}`)).toThrow(SecretDecryptionError)
    }
    expect(() => decryptSecret(key, `v1:${body.subarray(0, body.length - 1).toString('base64')}`)).toThrow(SecretDecryptionError)
    expect(() => decryptSecret(key, 'v1:AAAA')).toThrow(/too short/)
    expect(() => decryptSecret(key, `v9:${body.toString('base64')}`)).toThrow(/unknown format/)
    expect(() => decryptSecret(key, 'sk-plaintext')).toThrow(SecretDecryptionError)
  })

  it('fails under another key and with another context', () => {
    const ct = encryptSecret(key, 'value', 'org_a/OPENAI_API_KEY')
    expect(decryptSecret(key, ct, 'org_a/OPENAI_API_KEY')).toBe('value')
    expect(() => decryptSecret(randomBytes(32), ct, 'org_a/OPENAI_API_KEY')).toThrow(SecretDecryptionError)
    expect(() => decryptSecret(key, ct, 'org_b/OPENAI_API_KEY')).toThrow(SecretDecryptionError)
    expect(() => decryptSecret(key, ct)).toThrow(SecretDecryptionError)
  })

  it('refuses a key that is not 32 bytes', () => {
    expect(() => encryptSecret(randomBytes(16), 'x')).toThrow(/32 bytes/)
  })
})

describe('keyedHash', () => {
  it('is deterministic hex, differs per value and per install key', () => {
    const h = keyedHash(key, 'sk-a')
    expect(h).toMatch(/^[0-9a-f]{64}$/)
    expect(keyedHash(key, 'sk-a')).toBe(h)
    expect(keyedHash(key, 'sk-b')).not.toBe(h)
    expect(keyedHash(randomBytes(32), 'sk-a')).not.toBe(h)
  })

  it('uses a key derived from the install key, not the install key itself nor a plain hash', () => {
    const h = keyedHash(key, 'sk-a')
    expect(h).not.toBe(createHmac('sha256', key).update('sk-a').digest('hex'))
    expect(h).not.toBe(createHash('sha256').update('sk-a').digest('hex'))
  })
})

describe('parseInstallKey', () => {
  const raw = randomBytes(32)

  it('accepts 32 bytes as base64 (standard, URL-safe, unpadded) or hex', () => {
    expect(parseInstallKey(raw.toString('base64'))).toEqual(raw)
    expect(parseInstallKey(raw.toString('base64url'))).toEqual(raw)
    expect(parseInstallKey(raw.toString('base64').replace(/=+$/, ''))).toEqual(raw)
    expect(parseInstallKey(raw.toString('hex'))).toEqual(raw)
    expect(parseInstallKey(raw.toString('hex').toUpperCase())).toEqual(raw)
    expect(parseInstallKey(`  ${raw.toString('base64')}\n`)).toEqual(raw)
  })

  function rejection(value: string): InvalidEncryptionKeyError {
    try {
      parseInstallKey(value)
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidEncryptionKeyError)
      const e = err as InvalidEncryptionKeyError
      expect(e.kind).toBe('usage')
      expect(e.message).toContain('ENCRYPTION_KEY must be exactly 32 bytes')
      if (value.trim()) expect(e.message).not.toContain(value.trim()) // S7: never echo the key
      expect(e.hint).toMatch(/openssl rand -base64 32/)
      return e
    }
    throw new Error('expected a rejection')
  }

  it('says what it got for base64 of the wrong length', () => {
    expect(rejection(randomBytes(16).toString('base64')).message).toContain('got 24 characters (16 bytes as base64)')
  })

  it('says what it got for hex of the wrong length', () => {
    // 62 hex digits: 31 bytes as hex (and not valid base64 of 32 bytes either).
    expect(rejection(randomBytes(31).toString('hex')).message).toContain('31 bytes as hex')
  })

  it('says when the value is neither base64 nor hex', () => {
    expect(rejection('not a key!').message).toContain('neither valid base64 nor hex')
  })

  it('rejects an empty value', () => {
    expect(rejection('   ').message).toContain('empty')
  })
})

describe('loadInstallKey', () => {
  let dataDir: string
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lobu-key-'))
  })
  afterEach(async () => {
    await rm(dataDir, {recursive: true, force: true})
  })

  it('takes ENCRYPTION_KEY first and writes no file', async () => {
    const raw = randomBytes(32)
    const key = await loadInstallKey({env: {ENCRYPTION_KEY: raw.toString('hex')}, dataDir})
    expect(key).toEqual(raw)
    expect(await readdir(dataDir)).toEqual([])
  })

  it('stops on a malformed ENCRYPTION_KEY even with a data dir', async () => {
    await expect(loadInstallKey({env: {ENCRYPTION_KEY: 'short'}, dataDir})).rejects.toBeInstanceOf(InvalidEncryptionKeyError)
  })

  it('generates <dataDir>/encryption.key with mode 0600 and reuses it', async () => {
    const first = await resolveInstallKey({env: {}, dataDir})
    expect(first.source).toBe('generated')
    expect(first.key).toHaveLength(32)
    const file = path.join(dataDir, KEY_FILE)
    expect(first.path).toBe(file)
    if (process.platform !== 'win32') expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(parseInstallKey(await readFile(file, 'utf8'))).toEqual(first.key)
    const second = await resolveInstallKey({env: {}, dataDir})
    expect(second.source).toBe('file')
    expect(second.key).toEqual(first.key)
    expect((await readdir(dataDir)).sort()).toEqual([KEY_FILE]) // no temp files left
  })

  it('creates one key when several boots race for it', async () => {
    const keys = await Promise.all(Array.from({length: 5}, () => loadInstallKey({env: {}, dataDir})))
    for (const k of keys) expect(k).toEqual(keys[0])
  })

  it.skipIf(process.platform === 'win32')('refuses a group- or world-readable key file with a chmod hint', async () => {
    await loadInstallKey({env: {}, dataDir})
    const file = path.join(dataDir, KEY_FILE)
    await chmod(file, 0o644)
    const err = (await loadInstallKey({env: {}, dataDir}).catch((e: unknown) => e)) as InvalidEncryptionKeyError
    expect(err).toBeInstanceOf(InvalidEncryptionKeyError)
    expect(err.message).toContain('readable by other users')
    expect(err.hint).toBe(`Run: chmod 600 ${file}`)
  })

  it('names the file when its content is not a key', async () => {
    const file = path.join(dataDir, KEY_FILE)
    await writeFile(file, 'garbage\n', {mode: 0o600})
    await expect(loadInstallKey({env: {}, dataDir})).rejects.toThrow(file)
  })

  it('requires ENCRYPTION_KEY without a data dir (PostgreSQL)', async () => {
    const err = (await loadInstallKey({env: {}}).catch((e: unknown) => e)) as InvalidEncryptionKeyError
    expect(err).toBeInstanceOf(InvalidEncryptionKeyError)
    expect(err.code).toBe('ENCRYPTION_KEY_MISSING')
    expect(err.message).toContain('ENCRYPTION_KEY is required')
    expect(err.kind).toBe('usage')
  })
})

// S6: read the secrets table after storing a secret: no plaintext anywhere in the database row.
describe.each(storeDrivers())('secrets at rest on $name (S6)', ({open}) => {
  let store: Store
  let cleanup: () => Promise<void>
  beforeAll(async () => {
    ;({store, cleanup} = await open())
  })
  afterAll(async () => {
    await cleanup?.()
  })

  it('stores ciphertext and keyed hash only, and decrypts back', async () => {
    const plaintext = `sk-proj-${randomBytes(24).toString('base64url')}`
    const org = await store.orgs.create({slug: 's6', name: 'S6'})
    await store.secrets.upsert({orgId: org.id, name: 'OPENAI_API_KEY', ciphertext: encryptSecret(key, plaintext), keyedHash: keyedHash(key, plaintext)})
    const rows = await store.sql.query<{row: string}>('SELECT s::text AS row FROM secrets s')
    expect(rows).toHaveLength(1)
    expect(rows[0]!.row).not.toContain(plaintext)
    expect(rows[0]!.row).not.toContain(Buffer.from(plaintext).toString('base64'))
    const stored = await store.secrets.get(org.id, 'OPENAI_API_KEY')
    expect(decryptSecret(key, stored!.ciphertext)).toBe(plaintext)
    expect(stored!.keyedHash).toBe(keyedHash(key, plaintext))
  })
})

import {randomBytes} from 'node:crypto'
import {link, mkdir, readFile, stat, unlink, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {GatewayConfigError} from '../errors.js'

/**
 * The install key: 32 bytes that encrypt org secrets and OAuth grants at rest (docs/SECURITY.md S6).
 * `ENCRYPTION_KEY` (base64 or hex) wins; else the embedded gateway keeps one in
 * `<dataDir>/encryption.key` (0600), generated on first boot.
 */
export const KEY_BYTES = 32
export const KEY_FILE = 'encryption.key'

/** The key is malformed, missing, or its file is readable by others. Never carries the key. */
export class InvalidEncryptionKeyError extends GatewayConfigError {
  constructor(message: string, options: {hint?: string; code?: string} = {}) {
    super(message, {code: options.code ?? 'ENCRYPTION_KEY_INVALID', hint: options.hint})
  }
}

const HINT_GENERATE = 'Generate one with: openssl rand -base64 32'

function decodeBase64(value: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) && !/^[A-Za-z0-9_-]+={0,2}$/.test(value)) return undefined
  const unpadded = value.replace(/=+$/, '')
  if (unpadded.length % 4 === 1) return undefined
  return Buffer.from(unpadded.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
}

function decodeHex(value: string): Buffer | undefined {
  return /^(?:[0-9a-fA-F]{2})+$/.test(value) ? Buffer.from(value, 'hex') : undefined
}

/**
 * Decode a key given as base64 (standard or URL-safe, padding optional) or hex; it must be
 * exactly 32 bytes. `label` names where it came from in error messages. The messages say
 * what was received (lengths, never the value).
 */
export function parseInstallKey(raw: string, label = 'ENCRYPTION_KEY'): Buffer {
  const value = raw.trim()
  const expected = `${label} must be exactly 32 bytes, as base64 (44 characters) or hex (64 characters)`
  if (value === '') throw new InvalidEncryptionKeyError(`${expected}; got an empty value`, {hint: HINT_GENERATE})
  const hex = decodeHex(value)
  if (hex?.length === KEY_BYTES) return hex
  const b64 = decodeBase64(value)
  if (b64?.length === KEY_BYTES) return b64

  const readings: string[] = []
  if (hex) readings.push(`${hex.length} bytes as hex`)
  if (b64) readings.push(`${b64.length} bytes as base64`)
  const got = readings.length > 0 ? readings.join(', ') : 'neither valid base64 nor hex'
  throw new InvalidEncryptionKeyError(`${expected}; got ${value.length} characters (${got})`, {hint: HINT_GENERATE})
}

export type InstallKeySource = 'env' | 'file' | 'generated'

export interface ResolvedInstallKey {
  key: Buffer
  source: InstallKeySource
  /** The key file, for source file/generated. */
  path?: string
}

async function readKeyFile(file: string): Promise<Buffer> {
  const info = await stat(file)
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new InvalidEncryptionKeyError(
      `${file} is readable by other users (mode ${(info.mode & 0o777).toString(8).padStart(3, '0')})`,
      {code: 'ENCRYPTION_KEY_FILE_INSECURE', hint: `Run: chmod 600 ${file}`},
    )
  }
  return parseInstallKey(await readFile(file, 'utf8'), file)
}

/** Create the key file atomically (complete, 0600, never overwriting one that appeared meanwhile). */
async function createKeyFile(file: string): Promise<{key: Buffer; created: boolean}> {
  await mkdir(path.dirname(file), {recursive: true, mode: 0o700})
  const key = randomBytes(KEY_BYTES)
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, key.toString('base64') + '\n', {mode: 0o600, flag: 'wx'})
  try {
    await link(tmp, file)
    return {key, created: true}
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return {key: await readKeyFile(file), created: false}
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

/** Like loadInstallKey, and says where the key came from (for banners and `lobu doctor`). */
export async function resolveInstallKey(opts: {env?: NodeJS.ProcessEnv; dataDir?: string}): Promise<ResolvedInstallKey> {
  const env = opts.env ?? process.env
  const fromEnv = env.ENCRYPTION_KEY
  if (fromEnv !== undefined && fromEnv !== '') return {key: parseInstallKey(fromEnv), source: 'env'}
  if (!opts.dataDir) {
    throw new InvalidEncryptionKeyError('ENCRYPTION_KEY is required when the gateway uses DATABASE_URL', {
      code: 'ENCRYPTION_KEY_MISSING',
      hint: `Set ENCRYPTION_KEY to 32 random bytes as base64 or hex, the same on every instance. ${HINT_GENERATE}`,
    })
  }
  const file = path.join(path.resolve(opts.dataDir), KEY_FILE)
  try {
    return {key: await readKeyFile(file), source: 'file', path: file}
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const {key, created} = await createKeyFile(file)
  return {key, source: created ? 'generated' : 'file', path: file}
}

/**
 * The install key as 32 bytes: from `ENCRYPTION_KEY` (base64 or hex), else from
 * `<dataDir>/encryption.key` (generated 0600 on first use). Throws InvalidEncryptionKeyError
 * (exit 2) for a malformed key, a group/world-readable key file, or no key and no data dir.
 */
export async function loadInstallKey(opts: {env?: NodeJS.ProcessEnv; dataDir?: string}): Promise<Buffer> {
  return (await resolveInstallKey(opts)).key
}

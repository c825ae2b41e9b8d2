import {randomBytes} from 'node:crypto'
import {chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'

import {UsageError} from '../core/errors.js'

/** Environment variables the config-dir resolution reads (a subset of process.env). */
export type Env = Record<string, string | undefined>

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/**
 * The CLI's config dir: `$LOBU_CONFIG_DIR`, else `$XDG_CONFIG_HOME/lobu`, else `~/.config/lobu`.
 * Pure: nothing is created here (see ensureConfigDir).
 */
export function configDir(env: Env = process.env): string {
  const explicit = nonEmpty(env.LOBU_CONFIG_DIR)
  if (explicit) return resolve(explicit)
  const xdg = nonEmpty(env.XDG_CONFIG_HOME)
  if (xdg) return join(resolve(xdg), 'lobu')
  return join(nonEmpty(env.HOME) ?? homedir(), '.config', 'lobu')
}

/** Create the config dir (mode 0700) when missing; returns its path. */
export function ensureConfigDir(env: Env = process.env): string {
  const dir = configDir(env)
  mkdirSync(dir, {recursive: true, mode: 0o700})
  return dir
}

/** Remove group/world bits from a directory we keep secrets in (best effort on non-POSIX). */
export function tightenDir(dir: string): void {
  if (process.platform === 'win32') return
  const mode = statSync(dir).mode & 0o777
  if ((mode & 0o077) !== 0) chmodSync(dir, mode & 0o700)
}

/**
 * Write a file atomically: the content goes to a temp file in the same directory (created with
 * `mode`), is flushed (unless `fsync: false`), then renamed over the target. A failure leaves the
 * previous file intact and removes the temp file.
 */
export function writeFileAtomic(path: string, content: string, mode = 0o600, options: {fsync?: boolean} = {}): void {
  const dir = dirname(path)
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`)
  let fd: number | undefined
  try {
    fd = openSync(tmp, 'wx', mode)
    writeSync(fd, content)
    if (options.fsync !== false) fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    // The umask may have narrowed the mode at creation; never widen, but make it exact.
    chmodSync(tmp, mode)
    renameSync(tmp, path)
  } catch (error) {
    if (fd !== undefined) closeSync(fd)
    rmSync(tmp, {force: true})
    throw error
  }
}

/** JSON file content as the CLI writes it. */
export function toJsonFile(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n'
}

/** Parse a JSON file of ours; undefined when missing. A corrupt file is a usage error naming it. */
export function readJsonFile(path: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new UsageError(`${path} is not valid JSON`, {
      code: 'CONFIG_CORRUPT',
      hint: `Fix the file by hand or delete it (it is rewritten on the next change)`,
    })
  }
}

import {randomBytes} from 'node:crypto'
import {mkdir, readFile, rename, unlink, writeFile, link} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {GatewayError} from '../errors.js'

/**
 * One process per data dir (docs/SECURITY.md S12). PGlite does not lock its directory, and two processes on
 * one data dir lose writes, so the gateway takes `<dataDir>/gateway.lock` BEFORE opening it.
 *
 * The lock is created atomically and complete: its JSON is written to a private temp file
 * which is then hard-linked to `gateway.lock` (link fails with EEXIST if the lock exists),
 * so a reader never sees a half-written lock. A lock whose pid is no longer alive is stale
 * and taken over; `release()` removes the file only while it is still ours.
 */
export const LOCK_FILE = 'gateway.lock'

export interface LockInfo {
  pid: number
  /** The gateway's URL once its port is bound (`updateUrl`), else null. */
  url: string | null
  startedAt: string
  hostname?: string
  /** Random per acquisition: tells our lock from a later one of the same pid. */
  nonce?: string
}

export interface DataDirLock {
  readonly path: string
  readonly info: LockInfo
  /** Record the URL the gateway answers on (once the port is bound). */
  updateUrl(url: string): Promise<void>
  /** Remove the lock if it is still ours. Idempotent. */
  release(): Promise<void>
}

/** Another live process holds the data dir. */
export class DataDirLockedError extends GatewayError {
  readonly pid: number
  readonly url: string | null
  readonly lockPath: string

  constructor(lockPath: string, holder: LockInfo) {
    const where = holder.url ? `, ${holder.url}` : ''
    super(`the data dir ${path.dirname(lockPath)} is in use by another lobu gateway (pid ${holder.pid}${where})`, {
      code: 'DATA_DIR_LOCKED',
      hint: holder.url
        ? `Use the running gateway (lobu chat -c local …), stop pid ${holder.pid}, or pass another --data-dir.`
        : `Stop pid ${holder.pid}, or pass another --data-dir. If no such process runs, delete ${lockPath}.`,
    })
    this.pid = holder.pid
    this.url = holder.url
    this.lockPath = lockPath
  }
}

/** Locks this process holds, by path: our own pid in a lock file is only ours if it is listed here. */
const held = new Map<string, string>()

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const data = JSON.parse(text) as Partial<LockInfo>
    if (typeof data.pid !== 'number') return undefined
    return {
      pid: data.pid,
      url: typeof data.url === 'string' ? data.url : null,
      startedAt: typeof data.startedAt === 'string' ? data.startedAt : '',
      hostname: typeof data.hostname === 'string' ? data.hostname : undefined,
      nonce: typeof data.nonce === 'string' ? data.nonce : undefined,
    }
  } catch {
    return undefined
  }
}

async function readLockFile(file: string): Promise<{info: LockInfo | undefined; raw: string} | undefined> {
  try {
    const raw = await readFile(file, 'utf8')
    return {info: parseLock(raw), raw}
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Is this lock held by a live process other than a stale copy of ourselves? */
function isLive(file: string, info: LockInfo | undefined): info is LockInfo {
  if (!info) return false // unreadable: no live gateway writes such a lock (it is written whole)
  if (info.pid === process.pid) return held.get(file) === info.nonce // our pid reused (containers: pid 1)
  return isProcessAlive(info.pid)
}

/** The lock of a data dir, if any, and whether its holder is alive (for `lobu doctor`, `lobu chat`). */
export async function readDataDirLock(dataDir: string): Promise<(LockInfo & {alive: boolean}) | undefined> {
  const file = path.join(path.resolve(dataDir), LOCK_FILE)
  const found = await readLockFile(file)
  if (!found?.info) return undefined
  return {...found.info, alive: isLive(file, found.info)}
}

async function writeTemp(dir: string, info: LockInfo): Promise<string> {
  const tmp = path.join(dir, `${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  await writeFile(tmp, JSON.stringify(info) + '\n', {mode: 0o644, flag: 'wx'})
  return tmp
}

/**
 * Take `<dataDir>/gateway.lock` (creating the data dir, 0700, if needed). Throws
 * DataDirLockedError naming the holder's pid and URL when a live process holds it; takes
 * over a lock whose process is gone.
 */
export async function acquireDataDirLock(dataDir: string, opts: {url?: string} = {}): Promise<DataDirLock> {
  const dir = path.resolve(dataDir)
  await mkdir(dir, {recursive: true, mode: 0o700})
  const file = path.join(dir, LOCK_FILE)
  const info: LockInfo = {
    pid: process.pid,
    url: opts.url ?? null,
    startedAt: new Date().toISOString(),
    hostname: os.hostname(),
    nonce: randomBytes(8).toString('hex'),
  }

  const tmp = await writeTemp(dir, info)
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, file)
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const existing = await readLockFile(file)
      if (!existing) continue // released meanwhile: try again
      if (isLive(file, existing.info)) throw new DataDirLockedError(file, existing.info)
      if (attempt >= 5) throw new GatewayError(`could not take over the stale lock ${file}`, {hint: `Delete ${file} if no lobu gateway uses ${dir}.`})
      await takeOverStale(file, existing.raw)
    }
  } finally {
    await unlink(tmp).catch(() => {})
  }
  held.set(file, info.nonce!)

  let current = info
  let released = false
  const stillOurs = async () => {
    const found = await readLockFile(file)
    return found?.info?.pid === process.pid && found.info.nonce === info.nonce
  }

  return {
    path: file,
    get info() {
      return current
    },
    async updateUrl(url: string) {
      if (released || !(await stillOurs())) return
      const next = {...current, url}
      const tmpFile = await writeTemp(dir, next)
      try {
        await rename(tmpFile, file) // atomic replace: readers see the old or the new lock, whole
        current = next
      } catch (err) {
        await unlink(tmpFile).catch(() => {})
        throw err
      }
    },
    async release() {
      if (released) return
      released = true
      if (held.get(file) === info.nonce) held.delete(file)
      if (await stillOurs()) await unlink(file).catch(() => {})
    },
  }
}

/**
 * Move a stale lock out of the way without removing a fresh one another process may have put
 * there since we read it: rename it aside, then check that what we moved is what we judged
 * stale; if not, put it back.
 */
async function takeOverStale(file: string, staleRaw: string): Promise<void> {
  const aside = `${file}.stale-${randomBytes(4).toString('hex')}`
  try {
    await rename(file, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const moved = await readFile(aside, 'utf8').catch(() => '')
  if (moved !== staleRaw) {
    // Someone else's fresh lock: restore it (unless yet another one appeared meanwhile).
    await link(aside, file).catch(() => {})
  }
  await unlink(aside).catch(() => {})
}

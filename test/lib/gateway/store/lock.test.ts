import {execa, type ResultPromise} from 'execa'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {
  DataDirLockedError,
  LOCK_FILE,
  acquireDataDirLock,
  readDataDirLock,
} from '../../../../src/lib/gateway/store/lock.js'

const here = path.dirname(fileURLToPath(import.meta.url))

let dataDir: string
const children: ResultPromise[] = []

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'lobu-lock-'))
})
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL')
    await child.catch(() => {})
  }
  await rm(dataDir, {recursive: true, force: true})
})

/**
 * Start a real other process holding the lock; resolves once it holds it. (Wrapped in an
 * object: the child itself is a promise, which `await` would wait for.)
 */
async function startHolder(url: string): Promise<{child: ResultPromise; pid: number}> {
  const child = execa('node', ['--import', 'tsx', path.join(here, 'fixtures/lock-holder.ts'), dataDir, url], {buffer: false, reject: false})
  children.push(child)
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`holder exited (${code})`)))
  })
  return {child, pid: child.pid!}
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = execa('node', ['-e', '0'])
  const pid = child.pid!
  await child
  return pid
}

describe('data-dir lock (S12)', () => {
  it('creates gateway.lock with pid, url and start time, and release removes it', async () => {
    const lock = await acquireDataDirLock(dataDir, {url: 'http://127.0.0.1:8787'})
    expect(lock.path).toBe(path.join(dataDir, LOCK_FILE))
    const content = JSON.parse(await readFile(lock.path, 'utf8'))
    expect(content).toMatchObject({pid: process.pid, url: 'http://127.0.0.1:8787'})
    expect(new Date(content.startedAt).getTime()).not.toBeNaN()
    await lock.release()
    expect(existsSync(lock.path)).toBe(false)
    await lock.release() // idempotent
    // No temp files left behind.
    expect(await readdir(dataDir)).toEqual([])
  })

  it('creates a missing data dir', async () => {
    const nested = path.join(dataDir, 'a', 'b')
    const lock = await acquireDataDirLock(nested)
    expect(existsSync(path.join(nested, LOCK_FILE))).toBe(true)
    await lock.release()
  })

  it('refuses a second acquire while another live process holds it, naming its pid and url', async () => {
    const holder = await startHolder('http://127.0.0.1:9999')
    const err = await acquireDataDirLock(dataDir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DataDirLockedError)
    const locked = err as DataDirLockedError
    expect(locked.pid).toBe(holder.pid)
    expect(locked.url).toBe('http://127.0.0.1:9999')
    expect(locked.kind).toBe('failed')
    expect(locked.message).toContain(`pid ${holder.pid}`)
    expect(locked.message).toContain('http://127.0.0.1:9999')
    // The holder's lock is untouched.
    expect(JSON.parse(await readFile(path.join(dataDir, LOCK_FILE), 'utf8')).pid).toBe(holder.pid)
    expect(await readDataDirLock(dataDir)).toMatchObject({pid: holder.pid, alive: true})
  })

  it('refuses a second acquire in the same process', async () => {
    const lock = await acquireDataDirLock(dataDir)
    await expect(acquireDataDirLock(dataDir)).rejects.toBeInstanceOf(DataDirLockedError)
    await lock.release()
    const again = await acquireDataDirLock(dataDir)
    await again.release()
  })

  it('takes over the lock of a process killed with SIGKILL', async () => {
    const holder = await startHolder('http://127.0.0.1:9998')
    holder.child.kill('SIGKILL')
    await holder.child
    expect(await readDataDirLock(dataDir)).toMatchObject({pid: holder.pid, alive: false})
    const lock = await acquireDataDirLock(dataDir, {url: 'http://127.0.0.1:1234'})
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({pid: process.pid, url: 'http://127.0.0.1:1234'})
    await lock.release()
  })

  it('takes over a stale lock of a dead pid', async () => {
    const pid = await deadPid()
    await writeFile(path.join(dataDir, LOCK_FILE), JSON.stringify({pid, url: 'http://x', startedAt: new Date().toISOString()}))
    const lock = await acquireDataDirLock(dataDir)
    expect(lock.info.pid).toBe(process.pid)
    expect(JSON.parse(await readFile(lock.path, 'utf8')).pid).toBe(process.pid)
    await lock.release()
    expect(await readdir(dataDir)).toEqual([])
  })

  it('takes over a lock naming our own pid that we do not hold (pid reused after a restart)', async () => {
    await writeFile(path.join(dataDir, LOCK_FILE), JSON.stringify({pid: process.pid, url: null, startedAt: 'earlier', nonce: 'old'}))
    const lock = await acquireDataDirLock(dataDir)
    expect(lock.info.nonce).not.toBe('old')
    await lock.release()
  })

  it('takes over an unreadable lock', async () => {
    await writeFile(path.join(dataDir, LOCK_FILE), '')
    const lock = await acquireDataDirLock(dataDir)
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({pid: process.pid, url: null})
    expect(await readDataDirLock(dataDir)).toMatchObject({pid: process.pid, alive: true})
    await lock.release()
    expect(existsSync(lock.path)).toBe(false)
  })

  it('records the url later with updateUrl', async () => {
    const lock = await acquireDataDirLock(dataDir)
    expect(JSON.parse(await readFile(lock.path, 'utf8')).url).toBeNull()
    await lock.updateUrl('http://127.0.0.1:4321')
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({pid: process.pid, url: 'http://127.0.0.1:4321'})
    expect(await readDataDirLock(dataDir)).toMatchObject({url: 'http://127.0.0.1:4321', alive: true})
    await lock.release()
    expect(existsSync(lock.path)).toBe(false)
  })

  it('release leaves alone a lock that is no longer ours', async () => {
    const lock = await acquireDataDirLock(dataDir)
    const someoneElse = JSON.stringify({pid: 4_000_000, url: null, startedAt: 'now', nonce: 'theirs'})
    await writeFile(lock.path, someoneElse)
    await lock.release()
    expect(await readFile(lock.path, 'utf8')).toBe(someoneElse)
  })

  it('lets exactly one of several concurrent acquirers win', async () => {
    const results = await Promise.allSettled(Array.from({length: 5}, () => acquireDataDirLock(dataDir)))
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DataDirLockedError)
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireDataDirLock>>>).value.release()
  })
})

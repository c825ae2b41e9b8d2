/**
 * Store helpers for tests: real databases, made fast.
 *
 *   describe.each(storeDrivers())('store on $name', ({open}) => {
 *     let store: Store, cleanup: () => Promise<void>
 *     beforeAll(async () => ({store, cleanup} = await open()))
 *     afterAll(() => cleanup())
 *     …
 *   })
 *
 * - `pglite` (always): a fresh temporary data dir restored from a PGlite template made once
 *   per migrations set (cached in node_modules/.cache/lobu-test/, shared by every test file
 *   and run; the first build costs a few seconds and ~800 MB, later opens ~0.5 s each).
 *   cleanup() closes the store and deletes the dir.
 * - `postgres` (only when LOBU_TEST_DATABASE_URL is set, e.g. from
 *   `eval "$(test/support/postgres.sh start)"`): a brand-new database on that server per
 *   open() (`CREATE DATABASE lobu_test_<random>`), migrated by openStore; cleanup() drops it.
 *
 * Each open() is a separate, empty, migrated database. Opening costs ~0.5 s on PGlite: open
 * once per describe block (beforeAll) and use distinct org slugs / emails per test.
 * `freshPgliteDir()` and `pgliteTemplate()` serve tests that reopen a data dir themselves.
 */
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {mkdir, mkdtemp, rename, rm, unlink, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import pg from 'pg'

import {openStore} from '../../src/lib/gateway/store/index.js'
import {isProcessAlive} from '../../src/lib/gateway/store/lock.js'
import {MIGRATIONS} from '../../src/lib/gateway/store/migrations.js'
import {TEMPLATE_FORMAT, buildPgliteTemplate} from '../../src/lib/gateway/store/template.js'
import type {Store} from '../../src/lib/gateway/store/types.js'

export interface OpenedStore {
  store: Store
  cleanup(): Promise<void>
}

export interface StoreDriver {
  name: 'pglite' | 'postgres'
  open(): Promise<OpenedStore>
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CACHE_DIR = path.join(ROOT, 'node_modules/.cache/lobu-test')

function fingerprint(): string {
  let pgliteVersion = 'unknown'
  try {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@electric-sql/pglite/package.json'), 'utf8'))
    pgliteVersion = String(pkg.version)
  } catch {}
  return createHash('sha256').update(JSON.stringify({pgliteVersion, MIGRATIONS, TEMPLATE_FORMAT})).digest('hex').slice(0, 16)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let templatePromise: Promise<string> | undefined

/**
 * Path of a PGlite template (.tar.gz) with the current migrations, built on first use. Test
 * workers running in parallel build it once: the first takes a build lock, the others wait.
 */
export function pgliteTemplate(): Promise<string> {
  templatePromise ??= (async () => {
    const file = path.join(CACHE_DIR, `pglite-template-${fingerprint()}.tar.gz`)
    const lock = `${file}.building`
    await mkdir(CACHE_DIR, {recursive: true})
    for (;;) {
      if (existsSync(file)) return file
      try {
        await writeFile(lock, String(process.pid), {flag: 'wx'})
      } catch {
        // Another worker builds it; take over if that worker died (or hangs past 3 minutes).
        try {
          const pid = Number(readFileSync(lock, 'utf8'))
          if (!isProcessAlive(pid) || Date.now() - statSync(lock).mtimeMs > 180_000) await unlink(lock)
        } catch {}
        await sleep(200)
        continue
      }
      try {
        const archive = await buildPgliteTemplate()
        const tmp = `${file}.${process.pid}.tmp`
        await writeFile(tmp, archive)
        await rename(tmp, file)
        return file
      } finally {
        await unlink(lock).catch(() => {})
      }
    }
  })()
  return templatePromise
}

/** A new empty temporary directory to use as a data dir; remove it with the returned cleanup. */
export async function freshPgliteDir(): Promise<{dataDir: string; remove(): Promise<void>}> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lobu-store-'))
  return {dataDir, remove: () => rm(dataDir, {recursive: true, force: true})}
}

async function openPglite(): Promise<OpenedStore> {
  const templatePath = await pgliteTemplate()
  const {dataDir, remove} = await freshPgliteDir()
  const store = await openStore({dataDir, templatePath})
  return {
    store,
    async cleanup() {
      await store.close()
      await remove()
    },
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({connectionString: url})
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

async function openPostgres(serverUrl: string): Promise<OpenedStore> {
  const database = `lobu_test_${randomBytes(6).toString('hex')}`
  await adminQuery(serverUrl, `CREATE DATABASE ${database}`)
  let store: Store
  try {
    store = await openStore({databaseUrl: withDatabase(serverUrl, database)})
  } catch (err) {
    await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    throw err
  }
  return {
    store,
    async cleanup() {
      await store.close()
      await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    },
  }
}

/** A fresh database URL on the test server (for tests that open several stores on one database). */
export async function freshPostgresDatabase(): Promise<{url: string; drop(): Promise<void>} | undefined> {
  const serverUrl = process.env.LOBU_TEST_DATABASE_URL
  if (!serverUrl) return undefined
  const database = `lobu_test_${randomBytes(6).toString('hex')}`
  await adminQuery(serverUrl, `CREATE DATABASE ${database}`)
  return {
    url: withDatabase(serverUrl, database),
    drop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
  }
}

/** The drivers to run store-backed tests on: PGlite always, PostgreSQL when LOBU_TEST_DATABASE_URL is set. */
export function storeDrivers(): StoreDriver[] {
  const drivers: StoreDriver[] = [{name: 'pglite', open: openPglite}]
  const serverUrl = process.env.LOBU_TEST_DATABASE_URL
  if (serverUrl) drivers.push({name: 'postgres', open: () => openPostgres(serverUrl)})
  return drivers
}

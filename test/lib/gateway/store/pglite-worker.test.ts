import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {PGlite} from '@electric-sql/pglite'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Driver} from '../../../../src/lib/gateway/store/driver.js'
import {isUniqueViolation, sqlState} from '../../../../src/lib/gateway/store/driver.js'
import {ARRAY_TYPES_FILE} from '../../../../src/lib/gateway/store/pglite-array-types.js'
import {PgliteWorkerConnection, openInWorker, workerDriver} from '../../../../src/lib/gateway/store/pglite-host.js'
import {
  claimPrewarmedPglite,
  hasPrewarmedPglite,
  prewarmPglite,
  spawnPgliteWorker,
} from '../../../../src/lib/gateway/store/pglite-prewarm.js'
import {openPgliteDriver, PGDATA_DIR, pgliteDriver, START_SETTINGS} from '../../../../src/lib/gateway/store/pglite.js'
import {freshPgliteDir, pgliteTemplate} from '../../../support/store.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn()
})

async function tempDir(): Promise<string> {
  const {dataDir, remove} = await freshPgliteDir()
  cleanups.push(remove)
  return dataDir
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('PGlite in a worker thread: the driver', () => {
  let driver: Driver
  let dataDir: string

  beforeAll(async () => {
    dataDir = await tempDir()
    ;({driver} = await openPgliteDriver(dataDir, {templatePath: await pgliteTemplate()}))
    cleanups.push(() => driver.close())
    await driver.exec(`
      CREATE TABLE wt_items (id int PRIMARY KEY, name text UNIQUE);
      CREATE TABLE wt_log (n int);
    `)
  })

  it('holds a query made during a transaction until it ends: it is not part of it', async () => {
    let outsideDone = false
    let outside: Promise<Array<{n: number}>> | undefined
    await driver.transaction(async (tx) => {
      await tx.query('INSERT INTO wt_log VALUES (1)')
      outside = driver.query<{n: number}>('SELECT count(*)::int AS n FROM wt_log')
      void outside.then(() => (outsideDone = true))
      await tick(30)
      expect(outsideDone).toBe(false)
      await tx.query('INSERT INTO wt_log VALUES (2)')
    })
    // It ran after COMMIT: it sees both rows (inside the transaction it would have seen one).
    expect(await outside).toEqual([{n: 2}])
  })

  it('rolls back when the function throws, and the held query sees none of it', async () => {
    let outside: Promise<Array<{n: number}>> | undefined
    await expect(
      driver.transaction(async (tx) => {
        await tx.query('INSERT INTO wt_log VALUES (3)')
        outside = driver.query<{n: number}>('SELECT count(*)::int AS n FROM wt_log')
        throw new Error('changed my mind')
      }),
    ).rejects.toThrow('changed my mind')
    expect(await outside).toEqual([{n: 2}])
    expect(await driver.query('SELECT n FROM wt_log WHERE n = 3')).toEqual([])
  })

  it('runs a second transaction only after the first one ends, in order with the queries around it', async () => {
    const events: string[] = []
    const first = driver.transaction(async (tx) => {
      events.push('first: begin')
      await tx.query('INSERT INTO wt_log VALUES (10)')
      await tick(20)
      await tx.query('INSERT INTO wt_log VALUES (11)')
      events.push('first: end')
    })
    const between = driver.query('SELECT 1').then(() => events.push('query between'))
    const second = driver.transaction(async (tx) => {
      events.push('second: begin')
      const rows = await tx.query<{n: number}>('SELECT count(*)::int AS n FROM wt_log WHERE n >= 10')
      events.push(`second: sees ${rows[0]!.n}`)
    })
    await Promise.all([first, between, second])
    expect(events).toEqual(['first: begin', 'first: end', 'query between', 'second: begin', 'second: sees 2'])
  })

  it('a statement that fails inside a transaction fails its COMMIT (25P02) when the error was swallowed', async () => {
    const attempt = driver.transaction(async (tx) => {
      await tx.query('INSERT INTO wt_items VALUES (100, $1)', ['dup-in-tx'])
      await tx.query('INSERT INTO wt_items VALUES (100, $1)', ['dup-in-tx']).catch(() => undefined)
    })
    await expect(attempt).rejects.toMatchObject({code: '25P02'})
    expect(await driver.query('SELECT * FROM wt_items WHERE id = 100')).toEqual([])
  })

  it('errors cross over with their PostgreSQL fields (SQLSTATE, constraint, detail…)', async () => {
    await driver.query('INSERT INTO wt_items VALUES (1, $1)', ['one'])
    const err = await driver.query('INSERT INTO wt_items VALUES (2, $1)', ['one']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(isUniqueViolation(err)).toBe(true)
    expect(sqlState(err)).toBe('23505')
    expect(err).toMatchObject({
      code: '23505',
      severity: 'ERROR',
      constraint: 'wt_items_name_key',
      table: 'wt_items',
      schema: 'public',
      detail: 'Key (name)=(one) already exists.',
      message: expect.stringContaining('duplicate key value violates unique constraint'),
    })

    const syntax = await driver.query('SELEC 1').catch((e: unknown) => e)
    expect(syntax).toMatchObject({code: '42601', position: '1', message: 'syntax error at or near "SELEC"'})
    const viaExec = await driver.exec('SELECT * FROM wt_missing').catch((e: unknown) => e)
    expect(sqlState(viaExec)).toBe('42P01')
    // The driver still works after errors.
    expect(await driver.query('SELECT 1 AS one')).toEqual([{one: 1}])
  })

  it('rejects a parameter that cannot be sent to the worker instead of hanging', async () => {
    await expect(driver.query('SELECT $1::text', [() => 1])).rejects.toThrow()
    expect(await driver.query('SELECT 2 AS two')).toEqual([{two: 2}])
  })
})

describe('PGlite in a worker thread: values', () => {
  const QUERY = `SELECT
    $1::timestamptz AS ts, $2::jsonb AS doc, $3::text[] AS tags, $4::int8 AS big, $5::int8 AS small,
    $6::numeric AS num, $7::bytea AS bin, $8::bigint[] AS bigs, $9::timestamptz[] AS stamps,
    true AS yes, 1.5::float8 AS half, NULL::text AS nothing, '{1,NULL,3}'::int4[] AS ints,
    '{"a": [1, "x", null]}'::json AS js, interval '1 day 2 hours' AS span, 42::int2 AS small2,
    '2024-02-29'::date AS day, 'e7c4b3a0-1111-4222-8333-944445555666'::uuid AS id,
    ARRAY['a,b', 'with "quote"', NULL] AS tricky`
  const params = [
    new Date('2024-05-06T07:08:09.123Z'),
    JSON.stringify({nested: {list: [1, 2], ok: true}}),
    ['x', 'y z', ''],
    9007199254740993n,
    12n,
    '12345678901234567890.123456789',
    new Uint8Array([0, 1, 254, 255]),
    [1n, 2n],
    [new Date('2020-01-01T00:00:00Z')],
  ]

  it('come back exactly as from PGlite on the main thread (dates, json, arrays, bigint, numeric, bytea)', async () => {
    const dataDir = await tempDir()
    const {driver} = await openPgliteDriver(dataDir, {templatePath: await pgliteTemplate()})
    let viaWorker: Record<string, unknown>[]
    try {
      viaWorker = await driver.query(QUERY, params)
    } finally {
      await driver.close()
    }
    const db = await PGlite.create({dataDir: path.join(dataDir, PGDATA_DIR), startParams: [...PGlite.defaultStartParams, ...START_SETTINGS]})
    let direct: Record<string, unknown>[]
    try {
      direct = await pgliteDriver(db, 'direct').query(QUERY, params)
    } finally {
      await db.close()
    }
    expect(viaWorker).toEqual(direct)
    const row = viaWorker[0]!
    expect(row.ts).toBeInstanceOf(Date)
    expect(row.doc).toEqual({nested: {list: [1, 2], ok: true}})
    expect(row.tags).toEqual(['x', 'y z', ''])
    expect(row.big).toBe(9007199254740993n)
    expect(row.small).toBe(12)
    expect(row.bin).toEqual(new Uint8Array([0, 1, 254, 255]))
    expect(row.stamps).toEqual([new Date('2020-01-01T00:00:00Z')])
    expect(row.tricky).toEqual(['a,b', 'with "quote"', null])
  })

  it('array types come from the data dir (kept there after the first boot), and a stale list is replaced', async () => {
    const dataDir = await tempDir()
    const templatePath = await pgliteTemplate()
    const file = path.join(dataDir, PGDATA_DIR, ARRAY_TYPES_FILE)
    const roundTrip = async () => {
      const {driver} = await openPgliteDriver(dataDir, {templatePath})
      try {
        return await driver.query<{tags: string[]; ids: number[]}>('SELECT $1::text[] AS tags, $2::int8[] AS ids', [['a', 'b'], [1, 2]])
      } finally {
        await driver.close()
      }
    }
    expect(await roundTrip()).toEqual([{tags: ['a', 'b'], ids: [1, 2]}])
    const stored = JSON.parse(await readFile(file, 'utf8')) as {pglite: string; arrayTypes: Array<[number, number]>}
    expect(stored.arrayTypes).toContainEqual([25, 1009]) // text → text[]
    expect(await roundTrip()).toEqual([{tags: ['a', 'b'], ids: [1, 2]}])

    await writeFile(file, JSON.stringify({pglite: '0.0.0-other', arrayTypes: [[1, 2]]}))
    expect(await roundTrip()).toEqual([{tags: ['a', 'b'], ids: [1, 2]}])
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(stored)
  })
})

describe('PGlite in a worker thread: life cycle', () => {
  it('after close, every call fails with a clear error', async () => {
    const {driver} = await openPgliteDriver(await tempDir(), {templatePath: await pgliteTemplate()})
    const before = driver.query('SELECT 1 AS one')
    await driver.close()
    expect(await before).toEqual([{one: 1}]) // made before close(): answered first
    await expect(driver.query('SELECT 1')).rejects.toThrow('the database is closed')
    await expect(driver.exec('SELECT 1')).rejects.toThrow('the database is closed')
    await expect(driver.transaction(async () => 1)).rejects.toThrow('the database is closed')
    await driver.close() // twice is fine
  })

  it('close() waits for the running transaction', async () => {
    const {driver} = await openPgliteDriver(await tempDir(), {templatePath: await pgliteTemplate()})
    let closed = false
    const tx = driver.transaction(async (sql) => {
      const closing = driver.close().then(() => (closed = true))
      await tick(20)
      expect(closed).toBe(false)
      const rows = await sql.query<{one: number}>('SELECT 1 AS one')
      return {rows, closing}
    })
    const {rows, closing} = await tx
    await closing
    expect(rows).toEqual([{one: 1}])
    expect(closed).toBe(true)
  })

  it('a worker that dies rejects the pending calls and every later one', async () => {
    const connection = new PgliteWorkerConnection(spawnPgliteWorker())
    await openInWorker(connection, await tempDir(), await pgliteTemplate())
    const driver = workerDriver(connection, 'crash test')
    const pending = driver.query('SELECT count(*) FROM generate_series(1, 200000000)')
    await tick(50)
    await connection.worker.terminate()
    await expect(pending).rejects.toThrow(/database worker exited unexpectedly/)
    await expect(driver.query('SELECT 1')).rejects.toThrow(/database worker exited unexpectedly/)
    await expect(driver.transaction(async () => 1)).rejects.toThrow(/database worker exited unexpectedly/)
    await driver.close().catch(() => undefined)
  })

  it('open() claims the prewarmed worker; prewarming twice starts one worker', async () => {
    prewarmPglite()
    prewarmPglite()
    const claimed = claimPrewarmedPglite()
    expect(claimed).toBeDefined()
    expect(claimPrewarmedPglite()).toBeUndefined()
    await claimed!.terminate()

    prewarmPglite()
    expect(hasPrewarmedPglite()).toBe(true)
    const {driver, origin} = await openPgliteDriver(await tempDir(), {templatePath: await pgliteTemplate()})
    try {
      expect(hasPrewarmedPglite()).toBe(false)
      expect(origin).toBe('template')
      expect(await driver.query('SELECT 1 AS one')).toEqual([{one: 1}])
    } finally {
      await driver.close()
    }
  })

  it('an unclaimed prewarmed worker does not keep the process alive', async () => {
    const result = await execa('node', ['--import', 'tsx', path.join(here, 'fixtures/prewarm-exit.ts')], {reject: false})
    expect(result.exitCode).toBe(0)
    // Printed on exit: the worker was still waiting, so it was not what ended the process.
    expect(result.stdout.trim()).toBe('exiting with a prewarmed worker: true')
  })

  it('a damaged template falls back to initdb, and leaves no temporary directory', async () => {
    const dataDir = await tempDir()
    const damaged = path.join(dataDir, '..', `${path.basename(dataDir)}-damaged.tar.gz`)
    cleanups.push(async () => {
      const {rm} = await import('node:fs/promises')
      await rm(damaged, {force: true})
    })
    await writeFile(damaged, 'not a tarball')
    const {driver, origin} = await openPgliteDriver(dataDir, {templatePath: damaged})
    try {
      expect(origin).toBe('initdb')
      expect(await driver.query('SELECT 1 AS one')).toEqual([{one: 1}])
    } finally {
      await driver.close()
    }
    const {readdir} = await import('node:fs/promises')
    expect(await readdir(dataDir)).toEqual([PGDATA_DIR])
    expect(existsSync(path.join(dataDir, PGDATA_DIR, 'PG_VERSION'))).toBe(true)
  })
})

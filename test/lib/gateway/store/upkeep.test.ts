import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Store} from '../../../../src/lib/gateway/store/types.js'
import {isQuiet, runUpkeep, startUpkeep, upkeepFor} from '../../../../src/lib/gateway/store/upkeep.js'
import {startTestGateway} from '../../../support/gateway.js'
import {storeDrivers} from '../../../support/store.js'

const stats = (live: number, dead: number, modified = 0, inserted = 0) => ({table: 't', live, dead, modifiedSinceAnalyze: modified, insertedSinceVacuum: inserted})

describe('upkeepFor (autovacuum thresholds)', () => {
  it('vacuums past 50 + 20 % dead rows, or 1000 + 20 % rows inserted since the last vacuum', () => {
    expect(upkeepFor(stats(1000, 251))).toBe('vacuum')
    expect(upkeepFor(stats(1000, 250))).toBeUndefined()
    expect(upkeepFor(stats(1000, 251, 500))).toBe('vacuum')
    expect(upkeepFor(stats(1000, 0, 0, 1201))).toBe('vacuum')
    expect(upkeepFor(stats(1000, 0, 0, 1200))).toBeUndefined()
  })

  it('analyzes past 50 + 10 % changed rows, and leaves a quiet table alone', () => {
    expect(upkeepFor(stats(1000, 100, 151))).toBe('analyze')
    expect(upkeepFor(stats(1000, 100, 150))).toBeUndefined()
    expect(upkeepFor(stats(0, 0, 0))).toBeUndefined()
  })
})

describe('isQuiet', () => {
  it('is quiet before any request, and once none started for quietMs', () => {
    expect(isQuiet(1000, undefined, 5000)).toBe(true)
    expect(isQuiet(10_000, 4000, 5000)).toBe(true)
    expect(isQuiet(10_000, 6000, 5000)).toBe(false)
  })
})

const count = async (store: Store, sql: string) => Number((await store.sql.query<{n: unknown}>(sql))[0]!.n)

describe('database upkeep on PGlite', () => {
  let store: Store
  let cleanup: () => Promise<void>
  beforeAll(async () => ({store, cleanup} = await storeDrivers().find((d) => d.name === 'pglite')!.open()))
  afterAll(() => cleanup())

  it('vacuums a table whose deleted rows PGlite would otherwise never hand back', async () => {
    await store.sql.query('CREATE TABLE upkeep_churn (id bigint PRIMARY KEY, body text NOT NULL)')
    const size = () => count(store, `SELECT pg_relation_size('upkeep_churn') AS n`)
    let next = 0
    // One cycle: 2000 rows in, all but the last 500 deleted (what event retention does).
    const churn = async () => {
      await store.sql.query(`INSERT INTO upkeep_churn SELECT ${next} + g, repeat('x', 400) FROM generate_series(1, 2000) g`)
      next += 2000
      await store.sql.query(`DELETE FROM upkeep_churn WHERE id <= ${next - 500}`)
    }
    // Without upkeep the table only grows: each cycle's rows go after the last ones.
    await churn()
    const afterOne = await size()
    await churn()
    expect(await size()).toBeGreaterThan(afterOne * 1.5)

    const done = await runUpkeep(store.sql)
    expect(done).toContainEqual(expect.objectContaining({table: 'upkeep_churn', action: 'vacuum'}))
    expect(await count(store, `SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE relname = 'upkeep_churn'`)).toBe(0)
    // With upkeep between cycles, the freed space is used again.
    const vacuumed = await size()
    await churn()
    await runUpkeep(store.sql)
    await churn()
    expect(await size()).toBeLessThanOrEqual(vacuumed)
    // Nothing left to do right after a pass.
    await runUpkeep(store.sql)
    expect((await runUpkeep(store.sql)).map((d) => d.table)).not.toContain('upkeep_churn')
    await store.sql.query('DROP TABLE upkeep_churn')
  })

  it('stops between tables when asked', async () => {
    await store.sql.query('CREATE TABLE upkeep_stop_a (id bigint PRIMARY KEY)')
    await store.sql.query('CREATE TABLE upkeep_stop_b (id bigint PRIMARY KEY)')
    await store.sql.query('INSERT INTO upkeep_stop_a SELECT g FROM generate_series(1, 300) g')
    await store.sql.query('INSERT INTO upkeep_stop_b SELECT g FROM generate_series(1, 300) g')
    let asked = 0
    // Asked before each table: the first goes through, then the pass stops.
    const done = await runUpkeep(store.sql, () => asked++ > 0)
    expect(done).toHaveLength(1)
    // The rest is still due at the next pass.
    const next = (await runUpkeep(store.sql)).map((d) => d.table)
    for (const table of ['upkeep_stop_a', 'upkeep_stop_b']) if (done[0]!.table !== table) expect(next).toContain(table)
    await store.sql.query('DROP TABLE upkeep_stop_a, upkeep_stop_b')
  })

  it('gives the planner statistics (ANALYZE) once enough rows changed', async () => {
    await store.sql.query('CREATE TABLE upkeep_stats (id bigint PRIMARY KEY)')
    await store.sql.query('INSERT INTO upkeep_stats SELECT g FROM generate_series(1, 300) g')
    expect(await count(store, `SELECT count(*) AS n FROM pg_stats WHERE tablename = 'upkeep_stats'`)).toBe(0)
    await runUpkeep(store.sql)
    expect(await count(store, `SELECT count(*) AS n FROM pg_stats WHERE tablename = 'upkeep_stats'`)).toBeGreaterThan(0)
    await store.sql.query('DROP TABLE upkeep_stats')
  })

  it('waits for a quiet moment, then runs on its schedule; stop() ends it', async () => {
    await store.sql.query('CREATE TABLE upkeep_sched (id bigint PRIMARY KEY)')
    await store.sql.query('INSERT INTO upkeep_sched SELECT g FROM generate_series(1, 300) g')
    const analyzed = () => count(store, `SELECT count(*) AS n FROM pg_stat_user_tables WHERE relname = 'upkeep_sched' AND last_analyze IS NOT NULL`)
    const logs: string[] = []
    // A request "just now", always: never quiet.
    const busy = startUpkeep(store, {everyMs: 20, quietMs: 60_000, lastRequestAt: () => performance.now(), log: (_l, m) => logs.push(m)})!
    await new Promise((r) => setTimeout(r, 300))
    await busy.stop()
    expect(await analyzed()).toBe(0)

    const quiet = startUpkeep(store, {everyMs: 20, quietMs: 10, lastRequestAt: () => undefined, log: (_l, m) => logs.push(m)})!
    const deadline = Date.now() + 10_000
    while ((await analyzed()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
    await quiet.stop()
    expect(await analyzed()).toBe(1)
    expect(logs.some((m) => /database upkeep: .*upkeep_sched/.test(m))).toBe(true)
    await store.sql.query('DROP TABLE upkeep_sched')
  })

})

// Only when a PostgreSQL server is configured (LOBU_TEST_DATABASE_URL, as in CI).
describe.each(storeDrivers().filter((d) => d.name === 'postgres'))('database upkeep on $name', ({open}) => {
  it('leaves a PostgreSQL server to its own autovacuum', async () => {
    const {store, cleanup} = await open()
    try {
      expect(startUpkeep(store, {lastRequestAt: () => undefined, log: () => {}})).toBeUndefined()
    } finally {
      await cleanup()
    }
  })
})

describe('the gateway on PGlite', () => {
  it('runs the upkeep once its requests stop, and stops it when it closes', async () => {
    const logs: string[] = []
    const gw = await startTestGateway({driver: 'pglite', upkeep: {everyMs: 50, quietMs: 1000}, logger: (_l, m) => logs.push(m)})
    const analyzed = () => count(gw.store, `SELECT count(*) AS n FROM pg_stat_user_tables WHERE relname = 'orgs' AND last_analyze IS NOT NULL`)
    try {
      // 60 orgs: past ANALYZE's threshold of 50 changed rows.
      for (let i = 0; i < 60; i++) await gw.createOrg(`upkeep-${i}`)
      expect(await analyzed()).toBe(0)
      // The pass logs its tables once it has gone through all of them, so the table can show as
      // analyzed a little before the line is written: wait for both.
      const logged = () => logs.some((m) => m.startsWith('database upkeep: ') && m.includes(' orgs '))
      const deadline = Date.now() + 10_000
      while (((await analyzed()) === 0 || !logged()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(await analyzed()).toBe(1)
      expect(logged()).toBe(true)
    } finally {
      await gw.close()
    }
  })
})

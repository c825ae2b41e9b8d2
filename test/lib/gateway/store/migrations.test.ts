import {afterAll, describe, expect, it} from 'vitest'

import type {Driver} from '../../../../src/lib/gateway/store/driver.js'
import {openStore} from '../../../../src/lib/gateway/store/index.js'
import {SchemaTooNewError, migrate} from '../../../../src/lib/gateway/store/migrate.js'
import {LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration} from '../../../../src/lib/gateway/store/migrations.js'
import {openPgliteDriver} from '../../../../src/lib/gateway/store/pglite.js'
import {openPostgresDriver} from '../../../../src/lib/gateway/store/postgres.js'
import {freshPgliteDir, freshPostgresDatabase, pgliteTemplate} from '../../../support/store.js'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn()
})

/** A fresh database reachable by URL or data dir, and a way to open a bare driver on it. */
interface Target {
  name: 'pglite' | 'postgres'
  make(): Promise<{openDriver(): Promise<Driver>; openOpts: {dataDir?: string; databaseUrl?: string; templatePath?: string}}>
}

const targets: Target[] = [
  {
    name: 'pglite',
    async make() {
      const templatePath = await pgliteTemplate()
      const {dataDir, remove} = await freshPgliteDir()
      cleanups.push(remove)
      return {
        openDriver: async () => (await openPgliteDriver(dataDir, {templatePath})).driver,
        openOpts: {dataDir, templatePath},
      }
    },
  },
]
if (process.env.LOBU_TEST_DATABASE_URL) {
  targets.push({
    name: 'postgres',
    async make() {
      const db = (await freshPostgresDatabase())!
      cleanups.push(db.drop)
      return {openDriver: () => openPostgresDriver(db.url), openOpts: {databaseUrl: db.url}}
    },
  })
}

const extra: Migration = {
  version: LATEST_SCHEMA_VERSION + 1,
  name: 'test_extra',
  sql: `CREATE TABLE test_extra (id text PRIMARY KEY, note text NOT NULL);
        CREATE INDEX test_extra_note_idx ON test_extra (note);`,
}

describe.each(targets)('migrations on $name', ({make}) => {
  it('are applied once: reopening changes nothing and keeps the data', async () => {
    const {openOpts} = await make()
    const first = await openStore(openOpts)
    const org = await first.orgs.create({slug: 'keep', name: 'Keep'})
    const before = await first.sql.query<{version: number; name: string}>('SELECT version, name FROM schema_migrations ORDER BY version')
    expect(before.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version))
    await first.close()

    const second = await openStore(openOpts)
    try {
      const after = await second.sql.query<{version: number}>('SELECT version FROM schema_migrations ORDER BY version')
      expect(after).toEqual(before.map(({version}) => ({version})))
      expect(await second.orgs.getBySlug('keep')).toEqual(org)
    } finally {
      await second.close()
    }
  })

  it('apply only what is new (adding a migration is one array entry)', async () => {
    const {openDriver} = await make()
    const driver = await openDriver()
    try {
      await migrate(driver) // a fresh PostgreSQL database is empty; the PGlite template is current
      expect(await migrate(driver)).toEqual([])
      expect(await migrate(driver, [...MIGRATIONS, extra])).toEqual([extra.version])
      expect(await migrate(driver, [...MIGRATIONS, extra])).toEqual([])
      await driver.query(`INSERT INTO test_extra (id, note) VALUES ('1', 'hello')`)
      expect(await driver.query('SELECT note FROM test_extra')).toEqual([{note: 'hello'}])
      // A lobu that only knows the older migrations refuses the newer schema.
      await expect(migrate(driver, MIGRATIONS)).rejects.toBeInstanceOf(SchemaTooNewError)
    } finally {
      await driver.close()
    }
  })

  it('roll a failing migration back entirely', async () => {
    const {openDriver} = await make()
    const driver = await openDriver()
    try {
      const broken: Migration = {
        version: LATEST_SCHEMA_VERSION + 1,
        name: 'broken',
        sql: `CREATE TABLE half_made (id text); INSERT INTO no_such_table VALUES (1);`,
      }
      await expect(migrate(driver, [...MIGRATIONS, broken])).rejects.toThrow(/no_such_table/)
      expect(await driver.query(`SELECT to_regclass('half_made') IS NULL AS absent`)).toEqual([{absent: true}])
      expect(await driver.query('SELECT version FROM schema_migrations WHERE version = $1', [broken.version])).toEqual([])
    } finally {
      await driver.close()
    }
  })

  it('refuse a list whose versions do not increase', async () => {
    const {openDriver} = await make()
    const driver = await openDriver()
    try {
      await expect(migrate(driver, [...MIGRATIONS, {...extra, version: 1}])).rejects.toThrow(/strictly increasing/)
    } finally {
      await driver.close()
    }
  })
})

describe.runIf(process.env.LOBU_TEST_DATABASE_URL)('migrations on one PostgreSQL shared by several gateways', () => {
  it('apply each migration exactly once when gateways boot at the same time', async () => {
    const db = (await freshPostgresDatabase())!
    cleanups.push(db.drop)
    const stores = await Promise.all(Array.from({length: 4}, () => openStore({databaseUrl: db.url})))
    try {
      const rows = await stores[0]!.sql.query<{version: number}>('SELECT version FROM schema_migrations ORDER BY version')
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version))
      const org = await stores[1]!.orgs.create({slug: 'shared', name: 'Shared'})
      expect(await stores[3]!.orgs.getById(org.id)).toEqual(org)
    } finally {
      await Promise.all(stores.map((s) => s.close()))
    }
  })

  it('names the server without its password when it cannot connect', async () => {
    const err = await openStore({databaseUrl: 'postgres://lobu:hunter2@127.0.0.1:1/nope'}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).message).toContain('127.0.0.1:1')
    expect((err as Error).message).not.toContain('hunter2')
  })
})

import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {dependencyOrder, dumpDataDir, sqlIdent, sqlLiteral} from '../../../src/lib/embedded/db-dump.js'
import {migrateDataDir} from '../../../src/lib/embedded/db-migrate.js'
import {startGateway, type RunningGateway} from '../../../src/lib/gateway/server.js'
import {encryptSecret, keyedHash} from '../../../src/lib/gateway/crypto/index.js'
import {acquireDataDirLock} from '../../../src/lib/gateway/store/lock.js'
import {startFakeProvider, type FakeProvider} from '../../support/fake-provider.js'
import {rawRequest} from '../../support/gateway.js'
import {freshPostgresDatabase} from '../../support/store.js'
import {openStream} from '../gateway/sessions/sse-client.js'

const run = promisify(execFile)
const PSQL = existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql'

describe('sqlLiteral', () => {
  it('doubles single quotes and keeps backslashes, newlines and unicode as they are', () => {
    expect(sqlLiteral("it's")).toBe("'it''s'")
    expect(sqlLiteral('a\\b\\\\c')).toBe("'a\\b\\\\c'")
    expect(sqlLiteral("line1\nline2\t'x'")).toBe("'line1\nline2\t''x'''")
    expect(sqlLiteral('héllo 😀 中文')).toBe("'héllo 😀 中文'")
    expect(sqlLiteral('')).toBe("''")
  })
  it('writes NULL for null (and a quoted "NULL" for the text)', () => {
    expect(sqlLiteral(null)).toBe('NULL')
    expect(sqlLiteral('NULL')).toBe("'NULL'")
  })
  it('keeps the text forms of arrays and jsonb intact, their own escapes included', () => {
    expect(sqlLiteral('{chat,"a b","q\\"uote","back\\\\slash",NULL}')).toBe(`'{chat,"a b","q\\"uote","back\\\\slash",NULL}'`)
    expect(sqlLiteral('{"a": {"b": "it\'s \\"x\\" \\\\ \\u00e9"}, "n": null}')).toBe(`'{"a": {"b": "it''s \\"x\\" \\\\ \\u00e9"}, "n": null}'`)
  })
  it('refuses U+0000, which no PostgreSQL text holds', () => {
    expect(() => sqlLiteral('a\u0000b')).toThrow(/U\+0000/)
  })
  it('quotes identifiers', () => {
    expect(sqlIdent('orgs')).toBe('"orgs"')
    expect(sqlIdent('we"ird')).toBe('"we""ird"')
  })
})

describe('dependencyOrder', () => {
  it('puts every table after the tables it references, ties by name', () => {
    const order = dependencyOrder(
      ['session_events', 'sessions', 'agents', 'orgs', 'users', 'meta'],
      [
        {child: 'session_events', parent: 'sessions'},
        {child: 'sessions', parent: 'agents'},
        {child: 'sessions', parent: 'users'},
        {child: 'agents', parent: 'orgs'},
        {child: 'users', parent: 'users'},
      ],
    )
    expect(order).toEqual(['meta', 'orgs', 'agents', 'users', 'sessions', 'session_events'])
  })
  it('refuses a cycle', () => {
    expect(() => dependencyOrder(['a', 'b'], [{child: 'a', parent: 'b'}, {child: 'b', parent: 'a'}])).toThrow(/cycle/)
  })
})

/** Values that break a naive escaper, put in every column type the schema uses. */
const TRICKY = `it's a "test" \\ back\\\\slash \\n 😀 中文 é\nnew line\t{braces},[x]`

const api = async (gw: RunningGateway, p: string, token: string, opts: {method?: string; body?: unknown} = {}) => {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body)
  const res = await rawRequest(gw.url + p, {
    method: opts.method ?? (body ? 'POST' : 'GET'),
    headers: {authorization: `Bearer ${token}`, ...(body ? {'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body))} : {})},
    body,
  })
  return res
}

describe('lobu db dump of a data dir', () => {
  let dataDir: string
  let fake: FakeProvider
  let adminToken: string
  let minted: {id: string; token: string}
  let sessionKey: string
  let agentsBefore: unknown
  let historyBefore: unknown
  let sql: string

  const agentBody = (baseUrl: string) => ({
    files: {identity: TRICKY, soul: 'Be brief.', skills: [{name: 'quotes', content: `nested: {"k": "${TRICKY.replaceAll('"', '\\"')}"}`}]},
    providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}],
  })

  beforeAll(async () => {
    fake = await startFakeProvider()
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lobu-dump-'))
    const gw = await startGateway({host: '127.0.0.1', port: 0, dataDir, env: {}, version: '0.0.0-test', upkeep: false, logger: () => {}})
    try {
      adminToken = (await gw.ensureLocalCliToken()).token
      const whoami = await api(gw, '/api/v1/whoami', adminToken)
      const orgId = whoami.body.org.id as string
      const key = gw.installKey
      await gw.store.secrets.upsert({orgId, name: 'OPENAI_API_KEY', ciphertext: encryptSecret(key, 'sk-dump-test-0123456789'), keyedHash: keyedHash(key, 'sk-dump-test-0123456789')})
      for (const id of ['alpha', 'beta']) {
        const res = await api(gw, `/api/v1/agents/${id}`, adminToken, {method: 'PUT', body: agentBody(fake.urls.openai)})
        expect(res.status, res.text).toBeLessThan(300)
      }
      const tok = await api(gw, '/api/v1/tokens', adminToken, {body: {name: `dump "o'k" \\ 😀`, scopes: ['chat', 'agents:read']}})
      expect(tok.status, tok.text).toBe(201)
      minted = tok.body
      const session = await api(gw, '/api/v1/sessions', adminToken, {body: {agentId: 'alpha', thread: 'dump:thread-1'}})
      expect(session.status, session.text).toBe(201)
      sessionKey = session.body.sessionKey
      for (const content of [TRICKY, 'second turn']) {
        const events = await (await openStream(`${gw.url}/api/v1/sessions/${sessionKey}/messages`, {method: 'POST', body: {content}, token: adminToken})).all()
        expect(events.at(-1)!.event).toBe('done')
      }
      agentsBefore = (await api(gw, '/api/v1/agents', adminToken)).body
      historyBefore = (await api(gw, `/api/v1/sessions/${sessionKey}`, adminToken)).body.messages
      expect(historyBefore).toHaveLength(4)
    } finally {
      await gw.close()
    }
    const chunks: string[] = []
    await dumpDataDir({dataDir, write: (c) => void chunks.push(c)})
    sql = chunks.join('')
  }, 120_000)
  afterAll(async () => {
    await fake?.close()
    if (dataDir) await rm(dataDir, {recursive: true, force: true})
  })

  it('is one transaction: schema from the migrations, rows, sequences', () => {
    expect(sql).toMatch(/^-- lobu database dump/)
    expect(sql).toContain('BEGIN;\n')
    expect(sql.trimEnd().endsWith('COMMIT;')).toBe(true)
    expect(sql).toContain('CREATE TABLE orgs')
    expect(sql).toContain('INSERT INTO "schema_migrations"')
    expect(sql.indexOf('INSERT INTO "orgs"')).toBeLessThan(sql.indexOf('INSERT INTO "agents"'))
    expect(sql.indexOf('INSERT INTO "agents"')).toBeLessThan(sql.indexOf('INSERT INTO "sessions"'))
    expect(sql.indexOf('INSERT INTO "sessions"')).toBeLessThan(sql.indexOf('INSERT INTO "session_messages"'))
    expect(sql).toMatch(/setval\(pg_catalog\.pg_get_serial_sequence\('"session_messages"', 'seq'\), \d+, true\)/)
    expect(sql).not.toContain('sk-dump-test') // secrets stay encrypted
    expect(sql).not.toContain(minted.token) // tokens are stored hashed
  })

  it('refuses while another holder has the data dir, naming its pid', async () => {
    const lock = await acquireDataDirLock(dataDir)
    try {
      await expect(dumpDataDir({dataDir, write: () => {}})).rejects.toThrow(new RegExp(`pid ${process.pid}`))
    } finally {
      await lock.release()
    }
  })

  it('refuses a directory with no lobu database, and creates nothing there', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'lobu-dump-empty-'))
    try {
      await expect(dumpDataDir({dataDir: empty, write: () => {}})).rejects.toThrow(/no lobu database/)
      expect(existsSync(path.join(empty, 'pgdata'))).toBe(false)
    } finally {
      await rm(empty, {recursive: true, force: true})
    }
  })

  describe.skipIf(!process.env.LOBU_TEST_DATABASE_URL)('restored into PostgreSQL 15 with psql', () => {
    let db: {url: string; drop(): Promise<void>}
    let file: string
    let gw: RunningGateway

    beforeAll(async () => {
      db = (await freshPostgresDatabase())!
      file = path.join(dataDir, '..', `lobu-dump-${process.pid}.sql`)
      await writeFile(file, sql)
      await run(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', file])
      const key = (await readFile(path.join(dataDir, 'encryption.key'), 'utf8')).trim()
      // A gateway on PostgreSQL is a team gateway: the fake provider on loopback must be allowed.
      gw = await startGateway({host: '127.0.0.1', port: 0, databaseUrl: db.url, env: {ENCRYPTION_KEY: key, LOBU_EGRESS_ALLOW: new URL(fake.urls.openai).host}, version: '0.0.0-test', logger: () => {}})
    }, 120_000)
    afterAll(async () => {
      await gw?.close()
      await db?.drop()
      if (file) await rm(file, {force: true})
    })

    it('serves the same agents, tokens and history', async () => {
      expect((await api(gw, '/api/v1/agents', adminToken)).body).toEqual(agentsBefore)
      const who = await api(gw, '/api/v1/whoami', minted.token)
      expect(who.status, who.text).toBe(200)
      const history = await api(gw, `/api/v1/sessions/${sessionKey}`, adminToken)
      expect(history.body.messages).toEqual(historyBefore)
    })

    it('goes on: a new turn decrypts the provider key and appends to the history', async () => {
      fake.reset()
      const events = await (await openStream(`${gw.url}/api/v1/sessions/${sessionKey}/messages`, {method: 'POST', body: {content: 'third'}, token: adminToken})).all()
      expect(events.at(-1)!.event, JSON.stringify(events.at(-1))).toBe('done')
      expect(JSON.stringify(fake.requests.at(-1)!.headers)).toContain('sk-dump-test-0123456789')
      const history = await api(gw, `/api/v1/sessions/${sessionKey}`, adminToken)
      expect(history.body.messages).toHaveLength(6)
      expect(history.body.messages.slice(0, 4)).toEqual(historyBefore)
    })

    it('into a database that is not empty: psql fails and changes nothing', async () => {
      const before = await api(gw, '/api/v1/agents', adminToken)
      await expect(run(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db.url, '-f', file])).rejects.toThrow(/already exists/)
      expect((await api(gw, '/api/v1/agents', adminToken)).body).toEqual(before.body)
    })
  })

  describe.skipIf(!process.env.LOBU_TEST_DATABASE_URL)('lobu db migrate --to', () => {
    let db: {url: string; drop(): Promise<void>}
    let gw: RunningGateway | undefined

    beforeAll(async () => {
      db = (await freshPostgresDatabase())!
    })
    afterAll(async () => {
      await gw?.close()
      await db?.drop()
    })

    it('copies into an empty database, counts match, and the printed key serves it', async () => {
      const result = await migrateDataDir({dataDir, to: db.url, env: {}})
      const key = (await readFile(path.join(dataDir, 'encryption.key'), 'utf8')).trim()
      expect(result.encryptionKey).toBe(key)
      expect(result.tables.find((t) => t.name === 'session_messages')?.rows).toBe(4)
      gw = await startGateway({host: '127.0.0.1', port: 0, databaseUrl: db.url, env: {ENCRYPTION_KEY: result.encryptionKey}, version: '0.0.0-test', logger: () => {}})
      expect((await api(gw, '/api/v1/agents', adminToken)).body).toEqual(agentsBefore)
      expect((await api(gw, '/api/v1/whoami', minted.token)).status).toBe(200)
      expect((await api(gw, `/api/v1/sessions/${sessionKey}`, adminToken)).body.messages).toEqual(historyBefore)
    })

    it('refuses a database that is not empty, and changes nothing there', async () => {
      await expect(migrateDataDir({dataDir, to: db.url, env: {}})).rejects.toThrow(/is not empty/)
      expect((await api(gw!, '/api/v1/agents', adminToken)).body).toEqual(agentsBefore)
    })

    it('refuses a URL that is not postgres://', async () => {
      await expect(migrateDataDir({dataDir, to: 'mysql://x/y', env: {}})).rejects.toThrow(/postgres:\/\//)
    })
  })
})

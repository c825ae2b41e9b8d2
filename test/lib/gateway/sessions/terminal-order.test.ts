/**
 * When a turn's `done` leaves relative to the commit that stores the turn. Either way a client
 * that saw `done` must find the turn in the history: with `deliverBeforeStored` (the PGlite
 * default) the session's next reads in this process wait for the commit; without it (the
 * PostgreSQL default) `done` waits for the commit itself. Shutdown waits for both.
 *
 * The gateway's store holds every turn commit until the test releases it, and notes which
 * history reads reached the database while a commit was waiting.
 */
import {afterEach, describe, expect, it} from 'vitest'

import type {Sql, Store} from '../../../../src/lib/gateway/store/types.js'
import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import {startFakeProvider, type FakeProvider} from '../../../support/fake-provider.js'
import {driverNames, startTestGateway, type TestGateway} from '../../../support/gateway.js'
import {isTerminal, openStream} from './sse-client.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Turn commits (prepared on PGlite, plain on PostgreSQL) and the reads of a session's history. */
const isPrepare = (text: string) => /^\s*PREPARE\b/.test(text)
const isCommit = (text: string) => text.includes('INSERT INTO session_messages') || text.includes('EXECUTE lobu_commit_turns')
const isHistoryRead = (text: string) => !isPrepare(text) && !isCommit(text) && (text.includes('FROM session_messages') || text.includes('EXECUTE lobu_load_turns'))

function commitGate() {
  let open = true
  /** Commits waiting at the closed gate. */
  let waiting = 0
  let opened: Promise<void> = Promise.resolve()
  let release = () => {}
  const log: string[] = []
  const wrap = (store: Store): Store => {
    const sql: Sql = {
      async query(text, params) {
        if (isCommit(text)) {
          if (!open) {
            waiting++
            await opened
            waiting--
          }
          const rows = await store.sql.query(text, params)
          if (!isPrepare(text)) log.push('committed')
          return rows as never
        }
        if (waiting > 0 && isHistoryRead(text)) log.push('history read while a commit was held')
        return store.sql.query(text, params)
      },
    }
    return new Proxy(store, {
      get(target, prop) {
        if (prop === 'sql') return sql
        const value = Reflect.get(target, prop, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }
  return {
    wrap,
    log,
    hold() {
      open = false
      opened = new Promise<void>((resolve) => (release = resolve))
    },
    release() {
      open = true
      release()
    },
  }
}

describe.each(driverNames())('the end of a turn and its commit (%s)', (driver) => {
  let fake: FakeProvider | undefined
  let gw: TestGateway | undefined
  afterEach(async () => {
    await gw?.close()
    await fake?.close()
    gw = undefined
    fake = undefined
  })

  async function start(deliverBeforeStored: boolean, commitWindowMs = 0) {
    const gate = commitGate()
    fake = await startFakeProvider()
    const sessions = {deliverBeforeStored, commitWindowMs, shutdownWaitMs: 10_000}
    const g = await startTestGateway({driver, wrapStore: gate.wrap, services: {sessions}})
    gw = g
    const orgId = (await g.api('/api/v1/whoami')).body.org.id as string
    const key = g.gateway.installKey
    await g.store.secrets.upsert({orgId, name: 'OPENAI_API_KEY', ciphertext: encryptSecret(key, 'sk-test-0000'), keyedHash: keyedHash(key, 'sk-test-0000')})
    const put = await g.api('/api/v1/agents/oa', {method: 'PUT', body: {providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]}})
    expect(put.status, put.text).toBeLessThan(300)
    const created = await g.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'oa'}})
    expect(created.status, created.text).toBe(201)
    const sessionKey = created.body.sessionKey as string
    const sendTo = (key: string, content: string) => openStream(`${g.url}/api/v1/sessions/${key}/messages`, {method: 'POST', body: {content}, token: g.adminToken})
    const send = (content: string) => sendTo(sessionKey, content)
    const newSession = async () => (await g.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'oa'}})).body.sessionKey as string
    return {gate, g, fake, sessionKey, send, sendTo, newSession}
  }

  it('deliverBeforeStored: done leaves while the turn is stored; the next turn and GET wait for the commit', async () => {
    const {gate, g, fake, sessionKey, send} = await start(true)
    fake.reply({chunks: ['first ', 'answer']})
    gate.hold()
    const first = await (await send('one')).all()
    expect(first.at(-1)!.event).toBe('done')
    expect(gate.log).toEqual([])

    const got = g.api(`/api/v1/sessions/${sessionKey}`)
    fake.reply({chunks: ['second']})
    const second = send('two').then((s) => s.all())
    // Time for a read that does not wait to reach the database (it must not).
    await sleep(150)
    expect(gate.log).toEqual([])
    gate.release()

    const messages = (await got).body.messages.map((m: {role: string; content: string; status: string}) => [m.role, m.content, m.status])
    expect(messages.slice(0, 2)).toEqual([
      ['user', 'one', 'complete'],
      ['assistant', 'first answer', 'complete'],
    ])
    expect((await second).at(-1)!.event).toBe('done')
    expect(fake.requests.at(-1)!.body.messages.slice(-3)).toEqual([
      {role: 'user', content: 'one'},
      {role: 'assistant', content: 'first answer'},
      {role: 'user', content: 'two'},
    ])
    expect(gate.log).not.toContain('history read while a commit was held')
  })

  it('deliverBeforeStored: shutdown waits for a turn whose done already left', async () => {
    const {gate, g, send} = await start(true)
    gate.hold()
    const events = await (await send('one')).all()
    expect(events.at(-1)!.event).toBe('done')
    let closed = false
    const closing = g.gateway.close().then(() => (closed = true))
    await sleep(150)
    expect(closed).toBe(false)
    gate.release()
    await closing
    expect(gate.log).toContain('committed')
  })

  it('without it, done waits for the commit', async () => {
    const {gate, send} = await start(false)
    gate.hold()
    const stream = await send('one')
    const ended = stream.until(isTerminal).then((events) => {
      gate.log.push(`received ${events.at(-1)!.event}`)
    })
    await sleep(150)
    expect(gate.log).toEqual([])
    gate.release()
    await ended
    expect(gate.log).toEqual(['committed', 'received done'])
  })

  describe('with a commit window far longer than the test may take', () => {
    const LONG = 60_000

    it('the commits of turns ending meanwhile wait, then go in one statement when a session is read', async () => {
      const {gate, g, sessionKey, send, sendTo, newSession} = await start(true, LONG)
      const other = await newSession()
      expect((await (await send('one')).all()).at(-1)!.event).toBe('done')
      expect((await (await sendTo(other, 'two')).all()).at(-1)!.event).toBe('done')
      await sleep(100)
      expect(gate.log).toEqual([])
      const got = await g.api(`/api/v1/sessions/${sessionKey}`)
      expect(got.body.messages.map((m: {role: string; content: string}) => [m.role, m.content])).toEqual([
        ['user', 'one'],
        ['assistant', expect.any(String)],
      ])
      expect(gate.log).toEqual(['committed'])
      const otherGot = await g.api(`/api/v1/sessions/${other}`)
      expect(otherGot.body.messages.map((m: {content: string}) => m.content)[0]).toBe('two')
      expect(gate.log).toEqual(['committed'])
    })

    it('the next turn of the session does not wait for the window', async () => {
      const {fake, send} = await start(true, LONG)
      expect((await (await send('one')).all()).at(-1)!.event).toBe('done')
      expect((await (await send('two')).all()).at(-1)!.event).toBe('done')
      expect(fake.requests.at(-1)!.body.messages.slice(-3).map((m: {content: string}) => m.content)[0]).toBe('one')
    })

    it('shutdown stores the waiting commits at once', async () => {
      const {gate, g, send} = await start(true, LONG)
      expect((await (await send('one')).all()).at(-1)!.event).toBe('done')
      await g.gateway.close()
      expect(gate.log).toEqual(['committed'])
    })
  })
})

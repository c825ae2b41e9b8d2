/**
 * `lobu run --durable` (GatewayOptions.durable): with PGlite a turn's `done` leaves only once the
 * turn is committed, as on PostgreSQL; without it, `done` leaves while the commit is still held.
 * The store holds every turn commit until the test releases it.
 */
import {afterEach, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import type {Sql, Store} from '../../../../src/lib/gateway/store/types.js'
import {startFakeProvider, type FakeProvider} from '../../../support/fake-provider.js'
import {startTestGateway, type TestGateway} from '../../../support/gateway.js'
import {isTerminal, openStream} from './sse-client.js'

const isCommit = (text: string) => !/^\s*PREPARE\b/.test(text) && (text.includes('INSERT INTO session_messages') || text.includes('EXECUTE lobu_commit_turns'))

/** A store whose turn commits wait while the gate is held. */
function commitGate() {
  let release = () => {}
  let opened: Promise<void> | undefined
  const log: string[] = []
  const wrap = (store: Store): Store => {
    const sql: Sql = {
      async query(text, params) {
        if (isCommit(text)) {
          if (opened) await opened
          const rows = await store.sql.query(text, params)
          log.push('committed')
          return rows as never
        }
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
    hold: () => void (opened = new Promise<void>((resolve) => (release = resolve))),
    release: () => {
      opened = undefined
      release()
    },
  }
}

describe('durable gateway on PGlite', () => {
  let fake: FakeProvider | undefined
  let gw: TestGateway | undefined
  afterEach(async () => {
    await gw?.close()
    await fake?.close()
    gw = undefined
  })

  async function turnEnd(durable: boolean): Promise<string[]> {
    const gate = commitGate()
    fake = await startFakeProvider()
    gw = await startTestGateway({driver: 'pglite', wrapStore: gate.wrap, durable})
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id as string
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name: 'OPENAI_API_KEY', ciphertext: encryptSecret(key, 'sk-test-0000'), keyedHash: keyedHash(key, 'sk-test-0000')})
    const put = await gw.api('/api/v1/agents/oa', {method: 'PUT', body: {providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]}})
    expect(put.status, put.text).toBeLessThan(300)
    const sessionKey = (await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'oa'}})).body.sessionKey as string
    gate.hold()
    const stream = await openStream(`${gw.url}/api/v1/sessions/${sessionKey}/messages`, {method: 'POST', body: {content: 'one'}, token: gw.adminToken})
    const ended = stream.until(isTerminal).then((events) => void gate.log.push(`received ${events.at(-1)!.event}`))
    // The turn runs against the fake provider while its commit is held; then the gate opens.
    for (let i = 0; i < 200 && gate.log.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    gate.release()
    await ended
    await gw.close() // stores whatever is still waiting for the commit window
    return gate.log
  }

  it('--durable: done leaves only after the turn is committed', async () => {
    expect(await turnEnd(true)).toEqual(['committed', 'received done'])
  })

  it('without it: done leaves while the commit is still held', async () => {
    expect(await turnEnd(false)).toEqual(['received done', 'committed'])
  })
})

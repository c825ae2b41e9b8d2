/**
 * What the chat hot path keeps in memory or batches must never serve stale data: agent and
 * secret changes reach the next turn, revoked tokens stop at once, event ids stay monotonic
 * across gateway instances sharing one database, and the log replays what was streamed.
 */
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import {startGateway, type RunningGateway} from '../../../../src/lib/gateway/server.js'
import {startFakeProvider, type FakeProvider} from '../../../support/fake-provider.js'
import {driverNames, startTestGateway, type TestGateway} from '../../../support/gateway.js'
import {isTerminal, openStream, type TestEvent} from './sse-client.js'

describe.each(driverNames())('chat hot path (%s)', (driver) => {
  let fake: FakeProvider
  let gw: TestGateway
  let orgId: string

  const putSecret = async (name: string, value: string) => {
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name, ciphertext: encryptSecret(key, value), keyedHash: keyedHash(key, value)})
  }
  const agentBody = (identity: string, secret = 'OPENAI_API_KEY') => ({
    files: {identity, skills: []},
    providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: secret}}],
  })
  const putAgent = async (id: string, body: Record<string, unknown>) => {
    const res = await gw.api(`/api/v1/agents/${id}`, {method: 'PUT', body})
    expect(res.status, res.text).toBeLessThan(300)
  }
  const newSession = async (base: string, body: Record<string, unknown>, token = gw.adminToken) => {
    const res = await gw.api('/api/v1/sessions', {method: 'POST', body, token, ...(base === gw.url ? {} : {})})
    expect(res.status, res.text).toBeLessThan(300)
    return res.body.sessionKey as string
  }
  const turn = async (base: string, key: string, content: string, token = gw.adminToken): Promise<TestEvent[]> =>
    (await openStream(`${base}/api/v1/sessions/${key}/messages`, {method: 'POST', body: {content}, token})).all()
  const lastRequest = () => fake.requests.at(-1)!

  beforeAll(async () => {
    fake = await startFakeProvider()
    gw = await startTestGateway({driver, env: {LOBU_PROVIDER_TIMEOUT_MS: '2000'}})
    orgId = (await gw.api('/api/v1/whoami')).body.org.id
    await putSecret('OPENAI_API_KEY', 'sk-first-0000')
    await putAgent('hot', agentBody('You are version one.'))
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())

  it('an agent update reaches the very next turn of a running session', async () => {
    const key = await newSession(gw.url, {agentId: 'hot'})
    await turn(gw.url, key, 'one')
    expect(lastRequest().body.messages[0]).toEqual({role: 'system', content: 'You are version one.'})
    await putAgent('hot', agentBody('You are version two.'))
    const events = await turn(gw.url, key, 'two')
    expect(events.at(-1)!.event).toBe('done')
    expect(lastRequest().body.messages[0]).toEqual({role: 'system', content: 'You are version two.'})
    await putAgent('hot', agentBody('You are version one.'))
  })

  it('a rotated secret is used by the very next turn (written here or by another instance)', async () => {
    const key = await newSession(gw.url, {agentId: 'hot'})
    await turn(gw.url, key, 'one')
    expect(JSON.stringify(lastRequest().headers)).toContain('sk-first-0000')
    // Straight into the database, as another gateway (or `lobu apply` elsewhere) would.
    await putSecret('OPENAI_API_KEY', 'sk-second-1111')
    await turn(gw.url, key, 'two')
    expect(JSON.stringify(lastRequest().headers)).toContain('sk-second-1111')
    // The agent now names another secret: the next turn follows it.
    await putSecret('OTHER_KEY', 'sk-other-2222')
    await putAgent('hot', agentBody('You are version one.', 'OTHER_KEY'))
    await turn(gw.url, key, 'three')
    expect(JSON.stringify(lastRequest().headers)).toContain('sk-other-2222')
    await putAgent('hot', agentBody('You are version one.'))
    await putSecret('OPENAI_API_KEY', 'sk-first-0000')
  })

  it('a revoked token is refused at once, also on the routes of a turn', async () => {
    const minted = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'short', scopes: ['chat', 'tokens:write']}})
    const token = minted.body.token as string
    const key = await newSession(gw.url, {agentId: 'hot'}, token)
    expect((await turn(gw.url, key, 'hi', token)).at(-1)!.event).toBe('done')
    expect((await gw.api(`/api/v1/tokens/${minted.body.id}`, {method: 'DELETE', token})).status).toBe(200)
    const res = await openStream(`${gw.url}/api/v1/sessions/${key}/messages`, {method: 'POST', body: {content: 'again'}, token})
    expect(res.status).toBe(401)
    expect(JSON.parse(await res.text()).error.code).toBe('UNAUTHENTICATED')
  })

  it('many concurrent turns each get their own events and history', async () => {
    const keys = await Promise.all(Array.from({length: 24}, () => newSession(gw.url, {agentId: 'hot'})))
    const all = await Promise.all(keys.map((key, i) => turn(gw.url, key, `question ${i}`)))
    all.forEach((events, i) => {
      expect(events.filter(isTerminal).map((e) => e.event)).toEqual(['done'])
      expect(events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('')).toBe(`echo: question ${i}`)
      const ids = events.map((e) => Number(e.id))
      expect([...ids].sort((a, b) => a - b)).toEqual(ids)
      expect(new Set(events.map((e) => e.data.messageId)).size).toBe(1)
    })
    const histories = await Promise.all(keys.map((key) => gw.api(`/api/v1/sessions/${key}`)))
    histories.forEach((h, i) => expect(h.body.messages.map((m: {content: string}) => m.content)).toEqual([`question ${i}`, `echo: question ${i}`]))
  })

  describe('two gateway instances over one database', () => {
    let second: RunningGateway
    beforeAll(async () => {
      second = await startGateway({host: '127.0.0.1', port: 0, env: {}, version: '0.0.0-test', store: gw.store, installKey: gw.gateway.installKey, logger: () => {}})
    })
    afterAll(async () => {
      await second?.close()
    })

    it('event ids keep growing whichever instance runs the turn, and each replays the whole log', async () => {
      const key = await newSession(gw.url, {agentId: 'hot'})
      const turns = [
        await turn(gw.url, key, 'on A'),
        await turn(second.url, key, 'on B'),
        await turn(gw.url, key, 'on A again'),
        await turn(second.url, key, 'on B again'),
      ]
      const ids = turns.flat().map((e) => Number(e.id))
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!)
      // The history has all four turns, in order, whichever instance wrote them.
      const history = await gw.api(`/api/v1/sessions/${key}`)
      expect(history.body.messages.filter((m: {role: string}) => m.role === 'user').map((m: {content: string}) => m.content)).toEqual(['on A', 'on B', 'on A again', 'on B again'])
      // Each instance replays the log from the database exactly as it was streamed.
      const streamed = turns.flat().map((e) => [e.id, e.event, e.data])
      for (const base of [gw.url, second.url]) {
        const replay = await openStream(`${base}/api/v1/sessions/${key}/events?after=0`, {token: gw.adminToken})
        const events = await replay.until((e) => isTerminal(e) && e.id === turns[3]!.at(-1)!.id)
        replay.destroy()
        expect(events.map((e) => [e.id, e.event, e.data])).toEqual(streamed)
      }
      // Resuming in the middle of a turn: exactly the rest.
      const middle = turns[1]![2]!
      const resumed = await openStream(`${second.url}/api/v1/sessions/${key}/events`, {token: gw.adminToken, headers: {'last-event-id': String(middle.id)}})
      const rest = await resumed.until((e) => isTerminal(e) && e.id === turns[3]!.at(-1)!.id)
      resumed.destroy()
      expect(rest.map((e) => e.id)).toEqual(streamed.slice(streamed.findIndex(([id]) => id === middle.id) + 1).map(([id]) => id))
    })
  })
})

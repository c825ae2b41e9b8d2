import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import {startFakeProvider, type FakeProvider} from '../../../support/fake-provider.js'
import {driverNames, startTestGateway, type TestGateway, type TestOrg} from '../../../support/gateway.js'
import {isTerminal, openStream, type TestEvent} from './sse-client.js'

const KEYS = {openai: 'sk-openai-test-0123456789', anthropic: 'sk-ant-test-0123456789', gemini: 'AIza-gemini-test-0123456789'}

describe.each(driverNames())('sessions and chat (%s)', (driver) => {
  let fake: FakeProvider
  let gw: TestGateway
  let orgB: TestOrg

  const putSecret = async (orgId: string, name: string, value: string) => {
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name, ciphertext: encryptSecret(key, value), keyedHash: keyedHash(key, value)})
  }
  const putAgent = async (id: string, body: Record<string, unknown>, token?: string) => {
    const res = await gw.api(`/api/v1/agents/${id}`, {method: 'PUT', body, token})
    expect(res.status, res.text).toBeLessThan(300)
  }
  const localOrgId = async () => (await gw.api('/api/v1/whoami')).body.org.id as string

  const newSession = async (body: Record<string, unknown> = {}, token?: string) => {
    const res = await gw.api('/api/v1/sessions', {method: 'POST', body, token})
    expect(res.status, res.text).toBe(201)
    return res.body as {sessionKey: string; agentId: string; thread: string; createdAt: string}
  }
  const send = (key: string, content: string, token = gw.adminToken) =>
    openStream(`${gw.url}/api/v1/sessions/${key}/messages`, {method: 'POST', body: {content}, token})

  beforeAll(async () => {
    fake = await startFakeProvider()
    gw = await startTestGateway({
      driver,
      env: {LOBU_PROVIDER_TIMEOUT_MS: '1000'},
    })
    const orgId = await localOrgId()
    await putSecret(orgId, 'OPENAI_API_KEY', KEYS.openai)
    await putSecret(orgId, 'ANTHROPIC_API_KEY', KEYS.anthropic)
    await putSecret(orgId, 'GEMINI_API_KEY', KEYS.gemini)
    await putAgent('oa', {files: {identity: 'You are OA.', soul: 'Be brief.', user: 'The user is a tester.', skills: [{name: 'math', content: 'Skill: math.'}]}, providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]})
    await putAgent('an', {providers: [{id: 'anthropic', model: 'claude-sonnet-4-5', baseUrl: fake.urls.anthropic, key: {kind: 'secret', name: 'ANTHROPIC_API_KEY'}}]})
    await putAgent('ge', {providers: [{id: 'gemini', model: 'gemini-2.5-flash', baseUrl: fake.urls.gemini, key: {kind: 'secret', name: 'GEMINI_API_KEY'}}]})
    await putAgent('router', {providers: [{id: 'my-router', model: 'anthropic/claude-sonnet-4', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]})
    await putAgent('support', {providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]})
    await putAgent('nokey', {providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'MISSING_KEY'}}]})
    orgB = await gw.createOrg()
    await putAgent('support', {providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]}, orgB.token)
    await putSecret(orgB.orgId, 'OPENAI_API_KEY', KEYS.openai)
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())

  describe.each([
    ['openai', 'oa', KEYS.openai],
    ['anthropic', 'an', KEYS.anthropic],
    ['gemini', 'ge', KEYS.gemini],
  ])('a turn through the %s dialect', (dialect, agentId, key) => {
    it('streams turn, deltas and done with usage; every event carries the messageId', async () => {
      const s = await newSession({agentId})
      const stream = await send(s.sessionKey, 'hello there')
      expect(stream.status).toBe(200)
      expect(stream.headers['content-type']).toBe('text/event-stream')
      expect(stream.headers['cache-control']).toBe('no-cache')
      expect(stream.headers['x-accel-buffering']).toBe('no')
      const events = await stream.all()
      expect(events[0].event).toBe('turn')
      expect(events[0].data).toMatchObject({agentId, provider: dialect})
      const messageId = events[0].data.messageId
      expect(messageId).toMatch(/^msg_/)
      for (const e of events) expect(e.data.messageId).toBe(messageId)
      const ids = events.map((e) => Number(e.id))
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1])
      expect(events.filter(isTerminal)).toHaveLength(1)
      const done = events.at(-1)!
      expect(done.event).toBe('done')
      expect(done.data.finishReason).toBe('stop')
      expect(done.data.usage.inputTokens).toBeGreaterThan(0)
      expect(done.data.usage.outputTokens).toBeGreaterThan(0)
      const text = events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('')
      expect(text).toBe('echo: hello there')
      // The provider got the key from the org secret.
      const req = fake.requests.at(-1)!
      expect(req.dialect).toBe(dialect)
      expect(JSON.stringify(req.headers)).toContain(key)
      // Both messages are in the history.
      const history = await gw.api(`/api/v1/sessions/${s.sessionKey}`)
      expect(history.status).toBe(200)
      expect(history.body.messages.map((m: any) => [m.role, m.content])).toEqual([
        ['user', 'hello there'],
        ['assistant', 'echo: hello there'],
      ])
    })
  })

  it('builds the system prompt from IDENTITY, SOUL, USER and skills, in order', async () => {
    const s = await newSession({agentId: 'oa'})
    await (await send(s.sessionKey, 'hi')).all()
    const body = fake.requests.at(-1)!.body
    expect(body.messages[0]).toEqual({role: 'system', content: 'You are OA.\n\nBe brief.\n\nThe user is a tester.\n\nSkill: math.'})
  })

  it('sends the model string to the provider unchanged', async () => {
    const s = await newSession({agentId: 'router'})
    const events = await (await send(s.sessionKey, 'route me')).all()
    expect(events[0].data).toMatchObject({provider: 'my-router', model: 'anthropic/claude-sonnet-4'})
    expect(fake.requests.at(-1)!.body.model).toBe('anthropic/claude-sonnet-4')
    expect(events.at(-1)!.event).toBe('done')
  })

  it('a second turn streams only its own events, and the provider sees the earlier turn', async () => {
    const s = await newSession({agentId: 'oa', thread: 'two-turns'})
    const first = await (await send(s.sessionKey, 'first question')).all()
    const second = await (await send(s.sessionKey, 'second question')).all()
    const firstId = first[0].data.messageId
    const secondId = second[0].data.messageId
    expect(secondId).not.toBe(firstId)
    for (const e of second) expect(e.data.messageId).toBe(secondId)
    expect(second.filter((e) => e.event === 'delta').map((e) => e.data.text).join('')).toBe('echo: second question')
    expect(Number(second[0].id)).toBeGreaterThan(Number(first.at(-1)!.id))
    const msgs = fake.requests.at(-1)!.body.messages.filter((m: any) => m.role !== 'system')
    expect(msgs).toEqual([
      {role: 'user', content: 'first question'},
      {role: 'assistant', content: 'echo: first question'},
      {role: 'user', content: 'second question'},
    ])
  })

  describe('provider failures end the turn with exactly one error event', () => {
    it('a stream cut mid-way: the deltas so far, one error, the stream closes, the partial reply is kept', async () => {
      fake.reply('one two three four five six')
      fake.cutAfter(2)
      const s = await newSession({agentId: 'oa'})
      const events = await (await send(s.sessionKey, 'cut me')).all()
      expect(events.filter(isTerminal)).toHaveLength(1)
      const last = events.at(-1)!
      expect(last.event).toBe('error')
      expect(last.data.code).toBe('PROVIDER_ERROR')
      expect(events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('')).toBe('one two ')
      const history = await gw.api(`/api/v1/sessions/${s.sessionKey}`)
      expect(history.body.messages.map((m: any) => [m.role, m.content, m.status])).toEqual([
        ['user', 'cut me', 'complete'],
        ['assistant', 'one two ', 'partial'],
      ])
    })

    it('HTTP 401 from the provider is PROVIDER_AUTH', async () => {
      fake.fail({status: 401})
      const s = await newSession({agentId: 'oa'})
      const events = await (await send(s.sessionKey, 'auth?')).all()
      expect(events.map((e) => e.event)).toEqual(['turn', 'error'])
      expect(events[1].data).toMatchObject({code: 'PROVIDER_AUTH', status: 401})
      expect(events[1].data.message).not.toContain(KEYS.openai)
    })

    it('HTTP 400 from the provider is PROVIDER_ERROR with its status', async () => {
      fake.fail({status: 400})
      const s = await newSession({agentId: 'an'})
      const events = await (await send(s.sessionKey, 'bad')).all()
      expect(events.filter(isTerminal)).toHaveLength(1)
      expect(events.at(-1)!.data).toMatchObject({code: 'PROVIDER_ERROR', status: 400})
    })

    it('a provider that hangs past the timeout ends with TIMEOUT', async () => {
      fake.hang()
      const s = await newSession({agentId: 'ge'})
      const events = await (await send(s.sessionKey, 'hang')).all()
      expect(events.map((e) => e.event)).toEqual(['turn', 'error'])
      expect(events[1].data.code).toBe('TIMEOUT')
    })
  })

  it('no keys anywhere: NO_MODEL_CONFIGURED names the agent, the env variables and the lobu.toml fix', async () => {
    const s = await newSession({})
    expect(s.agentId).toBe('default')
    const events = await (await send(s.sessionKey, 'anyone?')).all()
    expect(events).toHaveLength(1)
    const err = events[0]
    expect(err.event).toBe('error')
    expect(err.data.code).toBe('NO_MODEL_CONFIGURED')
    expect(err.data.message).toContain('"default"')
    expect(err.data.message).toContain('OPENAI_API_KEY')
    expect(err.data.message).toContain('ANTHROPIC_API_KEY')
    expect(err.data.message).toContain('[[agents.default.providers]]')
    expect(err.data.settingsUrl).toBe(`${gw.url}/api/v1/agents/default`)
    expect(fake.requests).toHaveLength(0)

    const declared = await newSession({agentId: 'nokey'})
    const e2 = (await (await send(declared.sessionKey, 'x')).all())[0]
    expect(e2.data.code).toBe('NO_MODEL_CONFIGURED')
    expect(e2.data.message).toContain('MISSING_KEY')
  })

  it('a client disconnect aborts the provider request', async () => {
    fake.reply({chunks: Array.from({length: 40}, (_, i) => `w${i} `), delayMs: 100})
    const s = await newSession({agentId: 'oa'})
    const stream = await send(s.sessionKey, 'long answer please')
    await stream.until((e) => e.event === 'delta')
    const index = fake.requests.length - 1
    stream.destroy()
    expect(await fake.whenClosed(index)).toEqual({early: true})
    // The turn still ends with one terminal event in the log, and the partial reply is kept.
    const replay = await openStream(`${gw.url}/api/v1/sessions/${s.sessionKey}/events?after=0`, {token: gw.adminToken})
    const events = await replay.until(isTerminal)
    replay.destroy()
    expect(events.filter(isTerminal)).toHaveLength(1)
    expect(events.at(-1)!.data.code).toBe('ABORTED')
    const history = await gw.api(`/api/v1/sessions/${s.sessionKey}`)
    expect(history.body.messages[1]).toMatchObject({role: 'assistant', status: 'partial'})
  })

  it('202 without an event-stream Accept; /events replays with ?after= and Last-Event-ID', async () => {
    const s = await newSession({agentId: 'oa'})
    const res = await gw.api(`/api/v1/sessions/${s.sessionKey}/messages`, {method: 'POST', body: {content: 'async please'}})
    expect(res.status).toBe(202)
    const {messageId} = res.body
    expect(messageId).toMatch(/^msg_/)
    const all = await openStream(`${gw.url}/api/v1/sessions/${s.sessionKey}/events?after=0`, {token: gw.adminToken})
    const events = await all.until((e) => isTerminal(e) && e.data.messageId === messageId)
    all.destroy()
    expect(events[0].event).toBe('turn')
    expect(events.at(-1)!.event).toBe('done')
    // Resume after the second event: exactly the rest.
    const resumed = await openStream(`${gw.url}/api/v1/sessions/${s.sessionKey}/events`, {token: gw.adminToken, headers: {'last-event-id': String(events[1].id)}})
    const rest = await resumed.until(isTerminal)
    resumed.destroy()
    expect(rest.map((e) => e.id)).toEqual(events.slice(2).map((e) => e.id))
    expect((await gw.api(`/api/v1/sessions/${s.sessionKey}/events?after=x1`)).status).toBe(400)

    // Without Last-Event-ID or ?after= the stream is live only: the earlier turn is not replayed.
    const live = await openStream(`${gw.url}/api/v1/sessions/${s.sessionKey}/events`, {token: gw.adminToken})
    const next = await gw.api(`/api/v1/sessions/${s.sessionKey}/messages`, {method: 'POST', body: {content: 'second'}})
    expect(next.status).toBe(202)
    const liveEvents = await live.until(isTerminal)
    live.destroy()
    expect(liveEvents.map((e) => e.data.messageId)).toEqual(liveEvents.map(() => next.body.messageId))
    expect(liveEvents[0].event).toBe('turn')
  })

  it('a second message while a turn runs is refused with 409', async () => {
    fake.reply({chunks: ['a ', 'b ', 'c '], delayMs: 200})
    const s = await newSession({agentId: 'oa'})
    const stream = await send(s.sessionKey, 'slow')
    const res = await gw.api(`/api/v1/sessions/${s.sessionKey}/messages`, {method: 'POST', body: {content: 'again'}})
    expect(res.status).toBe(409)
    expect(res.body.error.code).toBe('TURN_IN_PROGRESS')
    expect((await stream.all()).at(-1)!.event).toBe('done')
  })

  describe('sessions', () => {
    it('resumes a thread (200, same key), forceNew starts it afresh (201, new key, empty history)', async () => {
      const a = await newSession({agentId: 'oa', thread: 'support:42'})
      await (await send(a.sessionKey, 'remember me')).all()
      const again = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'oa', thread: 'support:42'}})
      expect(again.status).toBe(200)
      expect(again.body.sessionKey).toBe(a.sessionKey)
      const fresh = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'oa', thread: 'support:42', forceNew: true}})
      expect(fresh.status).toBe(201)
      expect(fresh.body.sessionKey).not.toBe(a.sessionKey)
      expect(fresh.body.sessionKey).toMatch(/^ses_[A-Za-z0-9]{32}$/)
      expect((await gw.api(`/api/v1/sessions/${fresh.body.sessionKey}`)).body.messages).toEqual([])
      expect((await gw.api(`/api/v1/sessions/${a.sessionKey}`)).status).toBe(403)
    })

    it('validates thread and agent ids (400) before use', async () => {
      for (const thread of ['a/b', 'x'.repeat(300), '', '-lead', 'sp ace']) {
        const res = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'oa', thread}})
        expect(res.status, thread).toBe(400)
        expect(res.body.error.code).toBe('INVALID_REQUEST')
      }
      expect((await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'Bad/Agent'}})).status).toBe(400)
      expect((await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'oa', thread: 'x'.repeat(128)}})).status).toBe(201)
    })

    it('an unknown agent and another org’s agent answer the same 403, and no agent is created', async () => {
      await putAgent('only-b', {providers: []}, orgB.token)
      const otherOrgs = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'only-b'}})
      expect(otherOrgs.status).toBe(403)
      await gw.api('/api/v1/agents/only-b', {method: 'DELETE', token: orgB.token})
      const missing = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'only-b'}})
      expect(missing.status).toBe(403)
      expect(missing.text).toBe(otherOrgs.text)
      expect((await gw.api('/api/v1/agents/only-b')).status).toBe(403)
    })

    it('DELETE removes the session and its history', async () => {
      const s = await newSession({agentId: 'oa'})
      await (await send(s.sessionKey, 'bye')).all()
      const del = await gw.api(`/api/v1/sessions/${s.sessionKey}`, {method: 'DELETE'})
      expect(del.status).toBe(200)
      expect((await gw.api(`/api/v1/sessions/${s.sessionKey}`)).status).toBe(403)
      const rows = await gw.store.sql.query('SELECT count(*)::int AS n FROM session_messages WHERE session_key = $1', [s.sessionKey])
      expect(rows[0]).toEqual({n: 0})
    })

    it('needs the chat scope', async () => {
      const minted = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'read-only', scopes: ['agents:read']}})
      const res = await gw.api('/api/v1/sessions', {method: 'POST', body: {}, token: minted.body.token})
      expect(res.status).toBe(403)
      expect(res.body.error.message).toContain('chat')
    })
  })

  describe('tenant isolation (S4, S5, S16)', () => {
    it("org B's token on org A's session answers byte for byte like a missing session", async () => {
      const s = await newSession({agentId: 'support', thread: 'iso'})
      await (await send(s.sessionKey, 'private words')).all()
      const missingKey = `ses_${randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, 'a').slice(0, 32)}`
      const attempts: Array<[string, string, unknown?]> = [
        ['GET', ''],
        ['DELETE', ''],
        ['GET', '/events'],
        ['POST', '/messages', {content: 'let me in'}],
      ]
      for (const [method, suffix, body] of attempts) {
        const theirs = await gw.api(`/api/v1/sessions/${s.sessionKey}${suffix}`, {method, body, token: orgB.token})
        const missing = await gw.api(`/api/v1/sessions/${missingKey}${suffix}`, {method, body, token: orgB.token})
        const malformed = await gw.api(`/api/v1/sessions/nope${suffix}`, {method, body, token: orgB.token})
        expect(theirs.status, `${method} ${suffix}`).toBe(403)
        expect(theirs.text).toBe(missing.text)
        expect(theirs.text).toBe(malformed.text)
        expect(theirs.text).not.toContain('private')
      }
      // Org A's session and history are intact.
      const mine = await gw.api(`/api/v1/sessions/${s.sessionKey}`)
      expect(mine.status).toBe(200)
      expect(mine.body.messages).toHaveLength(2)
    })

    it('the same thread name of two orgs with an agent `support` are two sessions', async () => {
      const a = await newSession({agentId: 'support', thread: 'shared-name'})
      const b = await newSession({agentId: 'support', thread: 'shared-name'}, orgB.token)
      expect(a.sessionKey).not.toBe(b.sessionKey)
    })

    it('a userId in the body is ignored: the session is the caller’s', async () => {
      const res = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'support', thread: 'spoof', userId: orgB.userId}})
      expect(res.status).toBe(201)
      const rows = await gw.store.sql.query<{user_id: string}>('SELECT user_id FROM sessions WHERE key = $1', [res.body.sessionKey])
      expect(rows[0].user_id).not.toBe(orgB.userId)
      expect((await gw.api(`/api/v1/sessions/${res.body.sessionKey}`)).status).toBe(200)
      expect((await gw.api(`/api/v1/sessions/${res.body.sessionKey}`, {token: orgB.token})).status).toBe(403)
    })
  })
})

describe('gateway shutdown', () => {
  it('ends a running turn with exactly one SHUTDOWN error and closes the stream', async () => {
    const fake = await startFakeProvider()
    const gw = await startTestGateway({env: {LOBU_PROVIDER_TIMEOUT_MS: '30000'}})
    try {
      const orgId = (await gw.api('/api/v1/whoami')).body.org.id
      const key = gw.gateway.installKey
      await gw.store.secrets.upsert({orgId, name: 'K', ciphertext: encryptSecret(key, 'sk-x'), keyedHash: keyedHash(key, 'sk-x')})
      await gw.api('/api/v1/agents/oa', {method: 'PUT', body: {providers: [{id: 'openai', model: 'm', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'K'}}]}})
      fake.hang()
      const s = (await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'oa'}})).body
      const stream = await openStream(`${gw.url}/api/v1/sessions/${s.sessionKey}/messages`, {method: 'POST', body: {content: 'x'}, token: gw.adminToken})
      const events: TestEvent[] = [(await stream.next())!]
      expect(events[0].event).toBe('turn')
      const closing = gw.gateway.close()
      events.push(...(await stream.all()))
      await closing
      expect(events.map((e) => e.event)).toEqual(['turn', 'error'])
      expect(events[1].data.code).toBe('SHUTDOWN')
    } finally {
      await gw.close()
      await fake.close()
    }
  })
})

import OpenAI from 'openai'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import {toConversation} from '../../../../src/lib/gateway/openai-compat/index.js'
import {startFakeProvider, type FakeProvider} from '../../../support/fake-provider.js'
import {driverNames, startTestGateway, type TestGateway} from '../../../support/gateway.js'

describe('toConversation', () => {
  it('takes the last user message as the prompt, earlier turns as context, system messages apart', () => {
    const c = toConversation([
      {role: 'system', content: 'Be terse.'},
      {role: 'user', content: 'a'},
      {role: 'assistant', content: 'b'},
      {role: 'user', content: [{type: 'text', text: 'c'}, {type: 'image_url'}]},
      {role: 'assistant', content: null},
    ])
    expect(c).toEqual({system: 'Be terse.', history: [{role: 'user', content: 'a'}, {role: 'assistant', content: 'b'}], prompt: 'c'})
    expect(toConversation([{role: 'system', content: 'x'}])).toBeUndefined()
  })
})

describe.each(driverNames())('OpenAI-compatible endpoint (%s)', (driver) => {
  let fake: FakeProvider
  let gw: TestGateway
  let client: OpenAI

  beforeAll(async () => {
    fake = await startFakeProvider()
    gw = await startTestGateway({driver, env: {LOBU_PROVIDER_TIMEOUT_MS: '2000'}})
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name: 'ANTHROPIC_API_KEY', ciphertext: encryptSecret(key, 'sk-ant-x'), keyedHash: keyedHash(key, 'sk-ant-x')})
    const put = await gw.api('/api/v1/agents/helper', {
      method: 'PUT',
      body: {files: {identity: 'You are Helper.', skills: []}, providers: [{id: 'anthropic', model: 'claude-sonnet-4-5', baseUrl: fake.urls.anthropic, key: {kind: 'secret', name: 'ANTHROPIC_API_KEY'}}]},
    })
    expect(put.status).toBe(201)
    const token = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'sdk', scopes: ['chat']}})
    client = new OpenAI({baseURL: `${gw.url}/v1`, apiKey: token.body.token, maxRetries: 0})
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())

  it('lists the org’s agents that can answer as models (default has no provider here)', async () => {
    const ids: string[] = []
    for await (const model of client.models.list()) ids.push(model.id)
    expect(ids.sort()).toEqual(['helper'])
  })

  it('streams a reply through the official openai client', async () => {
    const stream = await client.chat.completions.create({
      model: 'helper',
      stream: true,
      stream_options: {include_usage: true},
      messages: [
        {role: 'system', content: 'Answer in English.'},
        {role: 'user', content: 'earlier question'},
        {role: 'assistant', content: 'earlier answer'},
        {role: 'user', content: 'stream to me'},
      ],
    })
    let text = ''
    let finish: string | null = null
    let usage: OpenAI.CompletionUsage | undefined
    for await (const chunk of stream) {
      expect(chunk.model).toBe('helper')
      text += chunk.choices[0]?.delta?.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      usage = chunk.usage ?? usage
    }
    expect(text).toBe('echo: stream to me')
    expect(finish).toBe('stop')
    expect(usage?.completion_tokens).toBeGreaterThan(0)
    const body = fake.requests.at(-1)!.body
    expect(body.system).toContain('You are Helper.')
    expect(body.system).toContain('Answer in English.')
    expect(body.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user'])
  })

  it('answers without streaming too', async () => {
    const res = await client.chat.completions.create({model: 'helper', messages: [{role: 'user', content: 'once'}]})
    expect(res.object).toBe('chat.completion')
    expect(res.choices[0].message).toMatchObject({role: 'assistant', content: 'echo: once'})
    expect(res.choices[0].finish_reason).toBe('stop')
    expect(res.usage?.total_tokens).toBeGreaterThan(0)
  })

  it('errors come in OpenAI’s shape: unknown model, no model configured, provider failure', async () => {
    await expect(client.chat.completions.create({model: 'nope', messages: [{role: 'user', content: 'x'}]})).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    })
    await expect(client.chat.completions.create({model: 'default', messages: [{role: 'user', content: 'x'}], stream: true})).rejects.toMatchObject({
      status: 400,
      code: 'no_model_configured',
    })
    fake.fail({status: 401})
    await expect(client.chat.completions.create({model: 'helper', messages: [{role: 'user', content: 'x'}]})).rejects.toMatchObject({
      status: 502,
      code: 'provider_auth',
    })
    const raw = await gw.api('/v1/chat/completions', {method: 'POST', body: {model: 'helper', messages: []}})
    expect(raw.status).toBe(400)
    expect(raw.body.error).toMatchObject({type: 'invalid_request_error', param: 'messages'})
  })

  it('a stream cut mid-way ends with an error chunk, not [DONE]', async () => {
    fake.reply('one two three four')
    fake.cutAfter(2)
    const stream = await client.chat.completions.create({model: 'helper', messages: [{role: 'user', content: 'cut'}], stream: true})
    let text = ''
    await expect(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
      })(),
    ).rejects.toThrow(/stream ended unexpectedly/)
    expect(text).toBe('one two ')
  })

  it('needs a token with the chat scope', async () => {
    const minted = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'read', scopes: ['agents:read']}})
    const res = await gw.api('/v1/models', {token: minted.body.token})
    expect(res.status).toBe(403)
    expect(res.body.error.type).toBe('permission_error')
    expect((await gw.api('/v1/models', {token: null})).status).toBe(401)
  })
})

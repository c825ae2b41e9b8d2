/**
 * The OpenAI-compatible endpoint as real clients see it, through the official `openai` package:
 * models (list and retrieve, only agents that can answer), every error in OpenAI's shape whoever
 * produced it, and parameters an agent cannot honour refused with a 400 naming them.
 */
import OpenAI from 'openai'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import {toOpenAIError, unsupportedParameter} from '../../../../src/lib/gateway/openai-compat/index.js'
import {startFakeProvider, type FakeProvider} from '../../../support/fake-provider.js'
import {startTestGateway, type TestGateway} from '../../../support/gateway.js'

describe('toOpenAIError', () => {
  it('reshapes a gateway error body, hint included; leaves an OpenAI body alone', () => {
    expect(toOpenAIError(401, {error: {code: 'UNAUTHENTICATED', message: 'no token', hint: 'lobu token create'}})).toEqual({
      error: {message: 'no token (lobu token create)', type: 'authentication_error', param: null, code: 'unauthenticated'},
    })
    expect(toOpenAIError(500, undefined)).toEqual({error: {message: 'request failed with status 500', type: 'server_error', param: null, code: null}})
    const own = {error: {message: 'm', type: 'invalid_request_error', param: 'n', code: 'x'}}
    expect(toOpenAIError(400, own)).toBe(own)
  })
})

describe('unsupportedParameter', () => {
  it('names what an agent cannot honour and lets hints and defaults through', () => {
    const base = {model: 'a', messages: []}
    expect(unsupportedParameter({...base, n: 2})?.param).toBe('n')
    expect(unsupportedParameter({...base, n: 1, logprobs: false, response_format: {type: 'text'}, modalities: ['text'], stop: [], temperature: 0.2, top_p: 1, seed: 3, user: 'u'})).toBeUndefined()
    expect(unsupportedParameter({...base, n: null, stop: null, max_tokens: null})).toBeUndefined()
    for (const [field, value] of [
      ['logprobs', true],
      ['top_logprobs', 2],
      ['response_format', {type: 'json_object'}],
      ['modalities', ['text', 'audio']],
      ['audio', {voice: 'alloy', format: 'mp3'}],
      ['prediction', {type: 'content', content: 'x'}],
      ['max_tokens', 10],
      ['max_completion_tokens', 10],
      ['stop', '\n'],
      ['web_search_options', {}],
    ] as const) {
      const found = unsupportedParameter({...base, [field]: value})
      expect(found?.param, field).toBe(field)
      expect(found?.message).toContain(`\`${field}\``)
    }
  })
})

describe('OpenAI clients against the endpoint', () => {
  let fake: FakeProvider
  let gw: TestGateway
  let token: string
  let client: OpenAI

  beforeAll(async () => {
    fake = await startFakeProvider()
    gw = await startTestGateway({env: {LOBU_PROVIDER_TIMEOUT_MS: '5000'}})
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name: 'OPENAI_API_KEY', ciphertext: encryptSecret(key, 'sk-x'), keyedHash: keyedHash(key, 'sk-x')})
    const openai = (name: string) => ({id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name}})
    for (const [id, provider] of [
      ['helper', openai('OPENAI_API_KEY')],
      ['unkeyed', openai('MISSING_API_KEY')],
      // A key from the gateway's environment, which does not hold it.
      ['noenv', {id: 'anthropic', model: 'claude-sonnet-4-5', key: {kind: 'env', name: 'ANTHROPIC_API_KEY'}}],
    ] as const) {
      const put = await gw.api(`/api/v1/agents/${id}`, {method: 'PUT', body: {providers: [provider]}})
      expect(put.status, JSON.stringify(put.body)).toBe(201)
    }
    token = (await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'sdk', scopes: ['chat']}})).body.token
    client = new OpenAI({baseURL: `${gw.url}/v1`, apiKey: token, maxRetries: 0})
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())

  it('lists only the agents that can answer, and retrieves one', async () => {
    const list = await client.models.list()
    expect(list.data.map((m) => m.id)).toEqual(['helper'])
    const model = await client.models.retrieve('helper')
    expect(model).toMatchObject({id: 'helper', object: 'model', owned_by: 'local'})
    expect(typeof model.created).toBe('number')
    for (const id of ['unkeyed', 'noenv', 'default', 'nope']) {
      await expect(client.models.retrieve(id), id).rejects.toMatchObject({status: 404, code: 'model_not_found', param: 'model', type: 'invalid_request_error'})
    }
  })

  it('answers streamed and not streamed', async () => {
    const done = await client.chat.completions.create({model: 'helper', messages: [{role: 'user', content: 'plain'}], temperature: 0.3})
    expect(done.choices[0].message.content).toBe('echo: plain')
    const stream = await client.chat.completions.create({model: 'helper', messages: [{role: 'user', content: 'streamed'}], stream: true})
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
    expect(text).toBe('echo: streamed')
  })

  it('refuses n > 1 and the other parameters it cannot honour, naming each, before any provider call', async () => {
    await expect(client.chat.completions.create({model: 'helper', messages: [{role: 'user', content: 'x'}], n: 2})).rejects.toMatchObject({
      status: 400,
      param: 'n',
      code: 'unsupported_value',
      type: 'invalid_request_error',
    })
    await expect(client.chat.completions.create({model: 'helper', messages: [{role: 'user', content: 'x'}], max_tokens: 5, stream: true})).rejects.toMatchObject({
      status: 400,
      param: 'max_tokens',
    })
    await expect(client.chat.completions.create({model: 'helper', messages: [{role: 'user', content: 'x'}], response_format: {type: 'json_object'}})).rejects.toMatchObject({
      status: 400,
      param: 'response_format',
    })
    expect(fake.requests).toHaveLength(0)
  })

  it('every /v1 error is in OpenAI’s shape, whoever answered it', async () => {
    const shape = {message: expect.any(String), type: expect.any(String), param: null, code: expect.any(String)}
    // Authentication, through the SDK.
    const anonymous = new OpenAI({baseURL: `${gw.url}/v1`, apiKey: 'lobu_pat_wrong', maxRetries: 0})
    const err = await anonymous.models.list().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toEqual({...shape, type: 'authentication_error', code: 'unauthenticated'})
    const none = await gw.api('/v1/models', {token: null})
    expect(none.status).toBe(401)
    expect(none.body.error).toEqual({...shape, type: 'authentication_error'})
    // An unknown route and method.
    const unknown = await gw.api('/v1/embeddings', {method: 'POST', body: {model: 'helper', input: 'x'}, token})
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toEqual({...shape, type: 'invalid_request_error', code: 'not_found'})
    expect((await gw.api('/v1/chat/completions', {token})).body.error).toMatchObject({type: 'invalid_request_error', code: 'not_found'})
    // The origin guard and the size limit, before authentication.
    const foreign = await gw.api('/v1/models', {headers: {origin: 'https://evil.example'}, token})
    expect(foreign.status).toBe(403)
    expect(foreign.body.error).toEqual({...shape, type: 'permission_error', code: 'forbidden_origin'})
    const big = await gw.api('/v1/chat/completions', {method: 'POST', body: JSON.stringify({model: 'helper', messages: [{role: 'user', content: 'x'.repeat(1_100_000)}]}), headers: {'content-type': 'application/json'}, token})
    expect(big.status).toBe(413)
    expect(big.body.error).toEqual({...shape, type: 'invalid_request_error', code: 'payload_too_large'})
    // Malformed JSON and a bad field: the param names it.
    const malformed = await gw.api('/v1/chat/completions', {method: 'POST', body: '{"model":', token})
    expect(malformed.body.error).toMatchObject({type: 'invalid_request_error', code: 'invalid_json'})
    const badField = await gw.api('/v1/chat/completions', {method: 'POST', body: {model: 'helper', messages: [{role: 'user', content: 7}]}, token})
    expect(badField.status).toBe(400)
    expect(badField.body.error).toMatchObject({code: 'invalid_request', param: 'messages[0].content'})
    // The rest of the API keeps its own shape.
    expect((await gw.api('/api/v1/whoami', {token: null})).body.error).toMatchObject({code: 'UNAUTHENTICATED'})
  })
})

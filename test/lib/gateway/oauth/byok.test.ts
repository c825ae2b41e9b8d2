/**
 * BYOK: a user's own provider key (`POST /api/v1/oauth/keys`, what `lobu oauth connect
 * PROVIDER --with-key` sends) wins over the agent's declared key and the system key — for that
 * user only — through the credential resolution every turn uses (sessions/credentials.ts).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import {resolveCredentials} from '../../../../src/lib/gateway/sessions/credentials.js'
import {driverNames} from '../../../support/gateway.js'
import {pageToken, startOAuthGateway, type OAuthTestGateway} from './helpers.js'

const USER_KEY = 'sk-user-own-key-3f8a1c'
const DECLARED_KEY = 'sk-declared-org-key-77b2'
const SYSTEM_KEY = 'sk-system-gateway-key-90d1'

describe.each(driverNames())('BYOK precedence (%s)', (driver) => {
  let gw: OAuthTestGateway
  let acme: Awaited<ReturnType<OAuthTestGateway['passwordOrg']>>
  let memberId: string
  let memberToken: string
  let ownerToken: string

  beforeAll(async () => {
    gw = await startOAuthGateway(driver, {}, {OPENAI_API_KEY: SYSTEM_KEY})
    acme = await gw.passwordOrg('acme')
    memberId = (await gw.member('acme', 'bob@acme.example')).userId
    memberToken = await pageToken(gw, 'bob@acme.example', 'oauth chat')
    ownerToken = (await gw.mint(['oauth', 'chat', 'agents:write'], acme.token)).token
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId: acme.orgId, name: 'OPENAI_API_KEY', ciphertext: encryptSecret(key, DECLARED_KEY), keyedHash: keyedHash(key, DECLARED_KEY)})
    const put = await gw.api('/api/v1/agents/support', {
      method: 'PUT',
      token: acme.token,
      body: {name: 'Support', providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]},
    })
    expect(put.status, put.text).toBe(201)
  })
  afterAll(async () => {
    await gw?.close()
  })

  /** The provider and key a turn of `userId` with `agentId` would use. */
  async function chosen(userId: string, agentId = 'support', orgId = acme.orgId) {
    const agent = await gw.store.agents.get(orgId, agentId)
    const result = await resolveCredentials(
      {store: gw.store, env: {OPENAI_API_KEY: SYSTEM_KEY}, installKey: gw.gateway.installKey, systemProviders: gw.gateway.systemProviders},
      agent!,
      userId,
    )
    if (!result.ok) throw new Error(`no provider: ${result.skipped.join('; ')}`)
    return {source: result.provider.source, key: result.provider.target.apiKey}
  }

  it('without a user key: the declared key, for everyone', async () => {
    expect(await chosen(acme.userId)).toEqual({source: 'declared', key: DECLARED_KEY})
    expect(await chosen(memberId)).toEqual({source: 'declared', key: DECLARED_KEY})
  })

  it('the user’s own key wins for that user only, and is stored encrypted', async () => {
    const res = await gw.api('/api/v1/oauth/keys', {token: ownerToken, body: {agentId: 'support', providerId: 'openai', key: USER_KEY}})
    expect(res.status, res.text).toBe(201)
    expect(res.body).toMatchObject({agentId: 'support', target: 'openai', kind: 'provider', status: 'active'})
    expect(res.text).not.toContain(USER_KEY)

    expect(await chosen(acme.userId)).toEqual({source: 'grant', key: USER_KEY})
    expect(await chosen(memberId)).toEqual({source: 'declared', key: DECLARED_KEY})

    const rows = JSON.stringify(await gw.store.sql.query('SELECT * FROM oauth_grants'))
    expect(rows).not.toContain(USER_KEY)
    const list = await gw.api('/api/v1/oauth/connections?agentId=support', {token: ownerToken})
    expect(list.body).toHaveLength(1)
    expect(list.text).not.toContain(USER_KEY)
    expect((await gw.api('/api/v1/oauth/connections', {token: memberToken})).body).toEqual([])
  })

  it('also over the system key of the default agent', async () => {
    expect(await chosen(memberId, 'default')).toMatchObject({key: SYSTEM_KEY})
    const res = await gw.api('/api/v1/oauth/keys', {token: memberToken, body: {agentId: 'default', providerId: 'openai', key: 'sk-bob-own-1'}})
    expect(res.status, res.text).toBe(201)
    expect(await chosen(memberId, 'default')).toEqual({source: 'grant', key: 'sk-bob-own-1'})
    expect(await chosen(acme.userId, 'default')).toMatchObject({key: SYSTEM_KEY})
  })

  it('replacing and deleting the key', async () => {
    await gw.api('/api/v1/oauth/keys', {token: ownerToken, body: {agentId: 'support', providerId: 'openai', key: 'sk-rotated-2'}})
    expect(await chosen(acme.userId)).toEqual({source: 'grant', key: 'sk-rotated-2'})
    const list = await gw.api('/api/v1/oauth/connections?agentId=support', {token: ownerToken})
    expect(list.body).toHaveLength(1)
    expect((await gw.api(`/api/v1/oauth/connections/${list.body[0].id}`, {method: 'DELETE', token: ownerToken})).status).toBe(200)
    expect(await chosen(acme.userId)).toEqual({source: 'declared', key: DECLARED_KEY})
  })

  it('refuses providers the agent does not use, bad keys, another org’s agent, missing scope', async () => {
    const unknown = await gw.api('/api/v1/oauth/keys', {token: ownerToken, body: {agentId: 'support', providerId: 'anthropic', key: 'sk-x'}})
    expect(unknown.status).toBe(400)
    expect(unknown.body.error.code).toBe('UNKNOWN_PROVIDER')
    expect(unknown.body.error.message).toContain('openai')
    expect((await gw.api('/api/v1/oauth/keys', {token: ownerToken, body: {agentId: 'support', providerId: 'openai', key: ''}})).status).toBe(400)
    expect((await gw.api('/api/v1/oauth/keys', {token: ownerToken, body: {agentId: 'support', providerId: 'openai', key: 'two words'}})).status).toBe(400)
    const other = await gw.passwordOrg('other')
    const otherToken = (await gw.mint(['oauth'], other.token)).token
    expect((await gw.api('/api/v1/oauth/keys', {token: otherToken, body: {agentId: 'support', providerId: 'openai', key: 'sk-x'}})).status).toBe(403)
    const chat = (await gw.mint(['chat'], acme.token)).token
    expect((await gw.api('/api/v1/oauth/keys', {token: chat, body: {agentId: 'support', providerId: 'openai', key: 'sk-x'}})).status).toBe(403)
  })
})

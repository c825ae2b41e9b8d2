/**
 * The CLI's `connect / status / disconnect` functions against a real gateway and a real OAuth
 * server (oauth2-mock-server): the "browser" follows the authorize redirect to the callback.
 */
import {OAuth2Server} from 'oauth2-mock-server'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ApiClient} from '../../../src/lib/client/api-client.js'
import {checkTarget, connectAccount, connectKey, disconnect, listConnections} from '../../../src/lib/oauth/connections.js'
import {rawRequest} from '../../support/gateway.js'
import {startOAuthGateway, type OAuthTestGateway} from '../gateway/oauth/helpers.js'

describe('oauth connect (CLI functions)', () => {
  let gw: OAuthTestGateway
  let provider: OAuth2Server
  let client: ApiClient

  beforeAll(async () => {
    provider = new OAuth2Server()
    await provider.issuer.keys.generate('RS256')
    await provider.start(0, '127.0.0.1')
    gw = await startOAuthGateway('pglite')
    const acme = await gw.passwordOrg('acme')
    const issuer = provider.issuer.url!
    const put = await gw.api('/api/v1/agents/support', {
      method: 'PUT',
      token: acme.token,
      body: {
        name: 'Support',
        providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'none'}}],
        mcp: {docs: {type: 'streamable-http', url: 'https://mcp.example/mcp', oauth: {authUrl: `${issuer}/authorize`, tokenUrl: `${issuer}/token`, clientId: 'lobu', scopes: ['read']}}},
      },
    })
    expect(put.status, put.text).toBe(201)
    client = new ApiClient({baseUrl: gw.url, token: acme.token})
  })
  afterAll(async () => {
    await gw?.close()
    await provider?.stop()
  })

  /** What a browser does with the authorize URL: follow the provider's redirect to the callback. */
  const browser = async (url: string) => {
    const res = await fetch(url, {redirect: 'manual'})
    const page = await rawRequest(res.headers.get('location')!)
    expect(page.status).toBe(200)
    return true
  }
  const quick = async () => new Promise<void>((r) => setTimeout(r, 10))

  it('prints the URL, opens it on request and returns once the grant is stored', async () => {
    const lines: string[] = []
    const connection = await connectAccount({client, agentId: 'support', target: 'docs', browser: true, canOpen: () => true, open: browser, note: (l) => lines.push(l), sleep: quick})
    expect(connection).toMatchObject({agentId: 'support', target: 'docs', kind: 'mcp', status: 'active'})
    expect(lines.join('\n')).toContain(`${provider.issuer.url}/authorize?`)
    expect(await listConnections(client, 'support')).toHaveLength(1)
  })

  it('waits for a NEW grant when one exists already (reconnect)', async () => {
    const before = (await listConnections(client, 'support'))[0]!
    let opened = false
    const connection = await connectAccount({
      client,
      agentId: 'support',
      target: 'docs',
      browser: false,
      note: (l) => {
        // The user opens the printed URL themselves (--no-browser), a little later.
        const url = /^\s+(http\S+)$/.exec(l)?.[1]
        if (url) setTimeout(() => void browser(url).then(() => (opened = true)), 50)
      },
      sleep: quick,
    })
    expect(opened).toBe(true)
    expect(connection.updatedAt).not.toBe(before.updatedAt)
  })

  it('times out with a clear message when nobody authorizes', async () => {
    let clock = 0
    const attempt = connectAccount({
      client,
      agentId: 'support',
      target: 'docs',
      browser: false,
      note: () => {},
      timeoutMs: 30_000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms
      },
    })
    await expect(attempt).rejects.toMatchObject({kind: 'failed', code: 'CONNECT_TIMEOUT', message: 'timed out waiting for the authorization of "docs"'})
  })

  it('a target without oauth is refused by the gateway (exit 2)', async () => {
    await expect(connectAccount({client, agentId: 'support', target: 'openai', browser: false, note: () => {}})).rejects.toMatchObject({
      kind: 'usage',
      hint: expect.stringContaining('--with-key'),
    })
    expect(() => checkTarget('../etc')).toThrow('invalid id')
  })

  it('--with-key stores the key; disconnect removes connections by id or target', async () => {
    const stored = await connectKey(client, {agentId: 'support', providerId: 'openai', key: 'sk-mine-123\n'})
    expect(stored).toMatchObject({kind: 'provider', target: 'openai'})
    await expect(connectKey(client, {agentId: 'support', providerId: 'openai', key: ''})).rejects.toMatchObject({kind: 'usage'})
    expect((await listConnections(client, 'support')).map((c) => c.target).sort()).toEqual(['docs', 'openai'])
    expect((await disconnect(client, 'support', 'docs')).map((c) => c.target)).toEqual(['docs'])
    expect((await disconnect(client, 'support', stored.id)).map((c) => c.target)).toEqual(['openai'])
    await expect(disconnect(client, 'support', 'docs')).rejects.toMatchObject({code: 'CONNECTION_NOT_FOUND'})
    expect(await listConnections(client)).toEqual([])
  })
})

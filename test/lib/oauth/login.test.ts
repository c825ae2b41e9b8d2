/**
 * The CLI login functions against a real gateway (device flow approved through the /device
 * page or `approve`, token login, logout with and without a reachable gateway).
 */
import {mkdtemp, rm, stat} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {listContexts, setContext} from '../../../src/lib/context/index.js'
import {getStoredToken, saveToken} from '../../../src/lib/credentials/index.js'
import {contextNameForUrl, deviceLogin, loginTargetForUrl, logout, tokenLogin} from '../../../src/lib/oauth/login.js'
import {PASSWORD, startOAuthGateway, type OAuthTestGateway} from '../gateway/oauth/helpers.js'

describe('oauth login (CLI functions)', () => {
  let gw: OAuthTestGateway
  let acme: Awaited<ReturnType<OAuthTestGateway['passwordOrg']>>
  let dir: string
  let env: Record<string, string>

  beforeAll(async () => {
    gw = await startOAuthGateway('pglite')
    acme = await gw.passwordOrg('acme')
  })
  afterAll(async () => {
    await gw?.close()
  })

  async function freshEnv() {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lobu-oauth-login-'))
    env = {LOBU_CONFIG_DIR: dir}
    return env
  }

  /** A fast sleep that moves the gateway's clock instead of waiting. */
  const fastSleep = async (ms: number) => {
    gw.advance(ms)
  }

  /** Approve the code printed by the login through the /device page (email + password). */
  function approvingNote(lines: string[], how: 'page' | 'deny' | 'approve' = 'page') {
    return (line: string) => {
      lines.push(line)
      const code = /one-time code: ([A-Z]{4}-[A-Z]{4})/.exec(line)?.[1]
      if (!code) return
      if (how === 'approve') void gw.api('/oauth/device/approve', {token: acme.token, body: {user_code: code}})
      // Deny takes the same credentials as approve.
      else void gw.form('/device', {user_code: code, email: acme.email, password: PASSWORD, action: how === 'deny' ? 'deny' : 'approve'})
    }
  }

  it('device login through the page: stores the token for the origin and creates the context', async () => {
    await freshEnv()
    const lines: string[] = []
    const target = loginTargetForUrl(gw.url, 'acme', env)
    const opened: string[] = []
    const result = await deviceLogin({
      target,
      browser: true,
      canOpen: () => true,
      open: async (url) => (opened.push(url), true),
      note: approvingNote(lines),
      env,
      sleep: fastSleep,
    })
    expect(result).toMatchObject({context: 'acme', url: gw.url, org: 'acme', user: 'Owner acme', savedContext: true})
    expect(result.scopes).toEqual(['agents:read', 'agents:write', 'chat', 'tokens:write', 'oauth'])
    expect(lines.join('\n')).toContain(`${gw.url}/device?user_code=`)
    expect(opened).toHaveLength(1)
    expect(opened[0]).toMatch(new RegExp(`^${gw.url}/device\\?user_code=[A-Z]{4}-[A-Z]{4}$`))

    const stored = getStoredToken(gw.url, env)!
    expect(stored).toMatchObject({tokenId: result.tokenId, org: 'acme', user: 'Owner acme'})
    expect(listContexts({env}).find((c) => c.name === 'acme')?.url).toBe(gw.url)
    expect((await stat(path.join(dir, 'credentials.json'))).mode & 0o777).toBe(0o600)
    const me = await gw.api('/api/v1/whoami', {token: stored.token})
    expect(me.body.user.id).toBe(acme.userId)
    await rm(dir, {recursive: true, force: true})
  })

  it('--no-browser never opens one; requested scopes are asked for; approval with a token works', async () => {
    await freshEnv()
    let opened = 0
    const result = await deviceLogin({
      target: loginTargetForUrl(gw.url, 'ci', env),
      scopes: ['chat'],
      browser: false,
      canOpen: () => true,
      open: async () => (opened++, true),
      note: approvingNote([], 'approve'),
      env,
      sleep: fastSleep,
    })
    expect(opened).toBe(0)
    expect(result.scopes).toEqual(['chat'])
    await rm(dir, {recursive: true, force: true})
  })

  it('a denied login is an AuthError and stores nothing', async () => {
    await freshEnv()
    const login = deviceLogin({target: loginTargetForUrl(gw.url, 'acme', env), browser: false, note: approvingNote([], 'deny'), env, sleep: fastSleep})
    await expect(login).rejects.toMatchObject({kind: 'auth', code: 'ACCESS_DENIED'})
    expect(getStoredToken(gw.url, env)).toBeUndefined()
    expect(listContexts({env}).map((c) => c.name)).toEqual(['local'])
    await rm(dir, {recursive: true, force: true})
  })

  it('refuses while LOBU_TOKEN is set (exit 2), before anything is sent', async () => {
    await freshEnv()
    const withEnv = {...env, LOBU_TOKEN: acme.token}
    const lines: string[] = []
    await expect(deviceLogin({target: loginTargetForUrl(gw.url, 'acme', withEnv), browser: false, note: (l) => lines.push(l), env: withEnv})).rejects.toMatchObject({
      kind: 'usage',
      code: 'ENV_TOKEN_SET',
    })
    expect(lines).toEqual([])
    await expect(tokenLogin({target: loginTargetForUrl(gw.url, 'acme', withEnv), token: acme.token, env: withEnv})).rejects.toMatchObject({kind: 'usage'})
    await rm(dir, {recursive: true, force: true})
  })

  it('--with-token: verifies with whoami and stores; a rejected or malformed token stores nothing', async () => {
    await freshEnv()
    const target = loginTargetForUrl(gw.url, undefined, env)
    expect(target.name).toBe(contextNameForUrl(gw.url))
    expect(target.name).toMatch(/^127\.0\.0\.1-\d+$/)
    await expect(tokenLogin({target, token: 'lobu_pat_' + 'A'.repeat(43), env})).rejects.toMatchObject({kind: 'auth'})
    await expect(tokenLogin({target, token: 'hunter2', env})).rejects.toMatchObject({kind: 'usage'})
    await expect(tokenLogin({target, token: '  \n', env})).rejects.toMatchObject({kind: 'usage'})
    expect(getStoredToken(gw.url, env)).toBeUndefined()
    const ok = await tokenLogin({target, token: `${acme.token}\n`, env})
    expect(ok).toMatchObject({org: 'acme', context: target.name, savedContext: true})
    expect(getStoredToken(gw.url, env)?.token).toBe(acme.token)
    // Logging in again to the same URL reuses that context.
    expect(loginTargetForUrl(gw.url, undefined, env)).toMatchObject({name: target.name, save: false})
    await rm(dir, {recursive: true, force: true})
  })

  it('logout revokes the stored token on the gateway and forgets it', async () => {
    await freshEnv()
    const minted = await gw.mint(['tokens:write', 'chat'], acme.token)
    setContext('acme', gw.url, env)
    saveToken(gw.url, {token: minted.token, tokenId: minted.id, org: 'acme', user: 'o', scopes: [], expiresAt: null}, env)
    const warnings: string[] = []
    const ctx = {name: 'acme', url: gw.url, origin: gw.url}
    const result = await logout({ctx, warn: (l) => warnings.push(l), env})
    expect(result).toMatchObject({revoked: true, forgot: true, tokenId: minted.id})
    expect(warnings).toEqual([])
    expect(getStoredToken(gw.url, env)).toBeUndefined()
    expect((await gw.api('/api/v1/whoami', {token: minted.token})).status).toBe(401)
    // Nothing stored any more: nothing to do.
    expect(await logout({ctx, warn: (l) => warnings.push(l), env})).toMatchObject({revoked: false, forgot: false})
    await rm(dir, {recursive: true, force: true})
  })

  it('logout still forgets the token when the gateway is unreachable, with a warning', async () => {
    await freshEnv()
    const dead = 'http://127.0.0.1:9' // discard port: nothing listens
    saveToken(dead, {token: acme.token, tokenId: 'tok_x', org: 'acme', user: 'o', scopes: [], expiresAt: null}, env)
    const warnings: string[] = []
    const result = await logout({ctx: {name: 'gone', url: dead, origin: dead}, warn: (l) => warnings.push(l), env})
    expect(result).toMatchObject({revoked: false, forgot: true})
    expect(warnings.join('\n')).toMatch(/could not revoke the token .*lobu token revoke tok_x/)
    expect(getStoredToken(dead, env)).toBeUndefined()
    await rm(dir, {recursive: true, force: true})
  })
})

/**
 * `lobu oauth` end to end: the built CLI against a real gateway with the OAuth routes (device
 * interval 1 s) and a real OAuth provider (oauth2-mock-server) for `connect`.
 */
import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'

import {execa} from 'execa'
import {OAuth2Server} from 'oauth2-mock-server'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {rawRequest, startTestGateway, type TestGateway} from '../support/gateway.js'
import {BIN, type Sandbox, createSandbox, runLobu} from './helpers.js'

const PASSWORD = 'e2e password of the acme owner'

/** The caller's environment minus what could change the child's behaviour, plus the sandbox. */
function childEnv(sandbox: Sandbox): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(LOBU_|XDG_)|_API_KEY$|_BASE_URL$|^(DATABASE_URL|NODE_OPTIONS|DEBUG|DISPLAY|WAYLAND_DISPLAY)$/.test(k)) env[k] = v
  }
  return {...env, ...sandbox.env}
}

/**
 * Start a CLI command and call `onLine` with each stderr line as it arrives (to approve a code
 * or open a URL while the command waits).
 */
async function runInteractive(args: string[], sandbox: Sandbox, onLine: (line: string) => void) {
  const child = execa(process.execPath, [BIN, ...args], {cwd: sandbox.work, env: childEnv(sandbox), extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000})
  let buffer = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8')
    let nl
    while ((nl = buffer.indexOf('\n')) !== -1) {
      onLine(buffer.slice(0, nl))
      buffer = buffer.slice(nl + 1)
    }
  })
  const r = await child
  return {exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr)}
}

describe('lobu oauth (e2e)', () => {
  let gw: TestGateway
  let provider: OAuth2Server
  let sandbox: Sandbox
  let other: Sandbox

  beforeAll(async () => {
    provider = new OAuth2Server()
    await provider.issuer.keys.generate('RS256')
    await provider.start(0, '127.0.0.1')
    gw = await startTestGateway({services: {oauth: {deviceIntervalSeconds: 1, refreshIntervalMs: 0}}})
    const org = await gw.api('/api/v1/admin/orgs', {method: 'POST', body: {slug: 'acme', name: 'Acme', owner: {email: 'ada@acme.test', name: 'Ada', password: PASSWORD}}})
    expect(org.status, org.text).toBe(201)
    const issuer = provider.issuer.url!
    const agent = await gw.api('/api/v1/agents/support', {
      method: 'PUT',
      token: org.body.token.token,
      body: {name: 'Support', mcp: {docs: {type: 'streamable-http', url: 'https://mcp.example/mcp', oauth: {authUrl: `${issuer}/authorize`, tokenUrl: `${issuer}/token`, clientId: 'lobu'}}}},
    })
    expect(agent.status, agent.text).toBe(201)
    sandbox = await createSandbox()
    other = await createSandbox()
  })
  afterAll(async () => {
    await gw?.close()
    await provider?.stop()
    await sandbox?.cleanup()
    await other?.cleanup()
  })

  it('oauth login --url -c acme --no-browser, approved on the /device page, then whoami -c acme works', async () => {
    let approval: Promise<unknown> | undefined
    const login = await runInteractive(['oauth', 'login', '--url', gw.url, '-c', 'acme', '--no-browser'], sandbox, (line) => {
      const code = /one-time code: ([A-Z]{4}-[A-Z]{4})/.exec(line)?.[1]
      if (!code) return
      const body = new URLSearchParams({user_code: code, email: 'ada@acme.test', password: PASSWORD, action: 'approve'}).toString()
      approval = rawRequest(`${gw.url}/device`, {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length)}, body})
    })
    expect(login.exitCode, login.stderr).toBe(0)
    expect(((await approval) as {status: number}).status).toBe(200)
    expect(login.stderr).toContain(`${gw.url}/device?user_code=`)
    expect(login.stderr).toContain('Logged in to')
    expect(login.stderr).not.toContain('Opened your browser')
    expect(login.stdout).toBe('')

    const file = path.join(sandbox.configDir, 'credentials.json')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const creds = JSON.parse(await readFile(file, 'utf8'))
    expect(creds.origins[gw.url].accounts).toEqual([expect.objectContaining({org: 'acme', user: 'Ada', kind: 'login', token: expect.stringMatching(/^lobu_pat_/)})])
    expect(creds.active.acme).toBe(`${gw.url}#Ada@acme`)
    const config = JSON.parse(await readFile(path.join(sandbox.configDir, 'config.json'), 'utf8'))
    expect(config.contexts.acme.url).toBe(gw.url)

    const whoami = await runLobu(['whoami', '-c', 'acme', '--json'], {sandbox})
    expect(whoami.exitCode, whoami.stderr).toBe(0)
    expect(whoami.json()).toMatchObject({org: {slug: 'acme'}, user: {name: 'Ada'}, context: {name: 'acme'}})
  })

  it('oauth login is refused (exit 2) while LOBU_TOKEN is set', async () => {
    const r = await runLobu(['oauth', 'login', '-c', 'acme', '--no-browser'], {sandbox, env: {LOBU_TOKEN: 'lobu_pat_' + 'a'.repeat(43)}})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Error: LOBU_TOKEN is set')
    expect(r.stderr).toContain('Hint: ')
  })

  it('a second machine logs in, approved with `lobu oauth approve CODE` from the first', async () => {
    let approved: Promise<{exitCode: number; stderr: string}> | undefined
    const login = await runInteractive(['oauth', 'login', '--url', gw.url, '-c', 'team', '--no-browser', '--scope', 'chat', '--json'], other, (line) => {
      const code = /one-time code: ([A-Z]{4}-[A-Z]{4})/.exec(line)?.[1]
      if (code) approved = runLobu(['oauth', 'approve', code.toLowerCase(), '-c', 'acme'], {sandbox})
    })
    const approve = await approved!
    expect(approve.exitCode, approve.stderr).toBe(0)
    expect(approve.stderr).toContain('Approved')
    expect(login.exitCode, login.stderr).toBe(0)
    expect(JSON.parse(login.stdout)).toMatchObject({context: 'team', org: 'acme', user: 'Ada', scopes: ['chat']})
    const bad = await runLobu(['oauth', 'approve', 'NOT-A-CODE!', '-c', 'acme'], {sandbox})
    expect(bad.exitCode).toBe(2)
  })

  it('oauth connect waits for the grant; status lists it; disconnect removes it', async () => {
    const connect = await runInteractive(['oauth', 'connect', 'docs', '--agent', 'support', '-c', 'acme', '--no-browser'], sandbox, (line) => {
      const url = /^\s+(http\S+\/authorize\?\S+)$/.exec(line)?.[1]
      if (url) void fetch(url, {redirect: 'manual'}).then((res) => rawRequest(res.headers.get('location')!))
    })
    expect(connect.exitCode, connect.stderr).toBe(0)
    expect(connect.stderr).toContain('Connected "docs" for agent support')

    const status = await runLobu(['oauth', 'status', '-c', 'acme'], {sandbox})
    expect(status.exitCode, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/support\s+docs\s+oauth\s+active/)
    const json = await runLobu(['oauth', 'status', '-c', 'acme', '--agent', 'support', '--json'], {sandbox})
    expect(json.json<unknown[]>()).toHaveLength(1)
    expect(json.stdout).not.toMatch(/access_?token|refresh/i)

    const disconnect = await runLobu(['oauth', 'disconnect', 'docs', '--agent', 'support', '-c', 'acme'], {sandbox})
    expect(disconnect.exitCode, disconnect.stderr).toBe(0)
    expect((await runLobu(['oauth', 'status', '-c', 'acme', '--json'], {sandbox})).json()).toEqual([])
  })

  it('oauth logout revokes the token and forgets it; whoami then exits 3', async () => {
    const creds = JSON.parse(await readFile(path.join(sandbox.configDir, 'credentials.json'), 'utf8'))
    const token = creds.origins[gw.url].accounts[0].token as string
    const r = await runLobu(['oauth', 'logout', '-c', 'acme'], {sandbox})
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stderr).toContain('revoked')
    expect((await gw.api('/api/v1/whoami', {token})).status).toBe(401)
    const whoami = await runLobu(['whoami', '-c', 'acme'], {sandbox})
    expect(whoami.exitCode).toBe(3)
    expect(whoami.stderr).toContain('lobu oauth login -c acme')
  })
})

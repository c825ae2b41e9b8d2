import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {UsageError} from '../../../src/lib/core/errors.js'
import type {Project} from '../../../src/lib/config/index.js'
import {addContext, setContext, useContext, writeProjectGateway} from '../../../src/lib/context/index.js'
import {saveToken} from '../../../src/lib/credentials/index.js'
import {type Check, checkGateways} from '../../../src/lib/doctor/index.js'
import {type FakeGateway, type FakeGatewayOptions, type TempDir, fakeGateway, tempDir, unusedPort} from './helpers.js'

let tmp: TempDir
let env: NodeJS.ProcessEnv
const gateways: FakeGateway[] = []
const now = new Date('2030-01-01T00:00:00Z')
const DAY = 24 * 3600 * 1000

beforeEach(async () => {
  tmp = tempDir()
  env = {LOBU_CONFIG_DIR: join(tmp.root, 'cfg'), HOME: join(tmp.root, 'home')}
  // `local` points at a port nothing listens on, unless a test moves it.
  setContext('local', `http://127.0.0.1:${await unusedPort()}`, env)
})

afterEach(async () => {
  for (const gw of gateways.splice(0)) await gw.close()
  tmp.cleanup()
})

async function serve(opts: FakeGatewayOptions = {}): Promise<FakeGateway> {
  const gw = await fakeGateway(opts)
  gateways.push(gw)
  return gw
}

function store(url: string, token: string, expiresAt: string | null = null): void {
  saveToken(url, {token, tokenId: 't1', org: 'acme', user: 'ada', scopes: ['chat'], expiresAt}, env)
}

async function run(opts: {context?: string; project?: Project; timeoutMs?: number} = {}): Promise<Record<string, Check>> {
  const checks = await checkGateways({env, now, timeoutMs: opts.timeoutMs ?? 2000, context: opts.context, project: opts.project})
  return Object.fromEntries(checks.map((c) => [c.id, c]))
}

function project(id: string): Project {
  return {root: join(tmp.root, id), file: join(tmp.root, id, 'lobu.toml'), config: {agents: {}, project: {id}}, warnings: [], env: {}}
}

describe('checkGateways', () => {
  it('is fine when the local gateway is not running (chat starts one)', async () => {
    const c = (await run())['gateway:local']!
    expect(c.status).toBe('ok')
    expect(c.message).toMatch(/^context local \(current\) http:\/\/127\.0\.0\.1:\d+: not running/)
    expect(c.message).toContain('no token yet')
  })

  it('shows the version and who the stored token belongs to, sending it only to its own origin', async () => {
    const prod = await serve({version: '2.0.0', tokens: {'tok-prod': {user: 'ada', org: 'acme', expiresAt: new Date(now.getTime() + 60 * DAY).toISOString()}}})
    const other = await serve({tokens: {}})
    addContext('prod', prod.url, env)
    addContext('other', other.url, env)
    store(prod.url, 'tok-prod')
    const by = await run()
    expect(by['gateway:prod']).toMatchObject({status: 'ok'})
    expect(by['gateway:prod']!.message).toBe(`context prod ${prod.url}: up (lobu 2.0.0); signed in as ada in org acme (stored token, expires 2030-03-02 (in 2 months))`)
    expect(prod.requests.find((r) => r.path === '/api/v1/whoami')?.authorization).toBe('Bearer tok-prod')
    expect(other.requests.every((r) => r.authorization === undefined)).toBe(true)
    // Without a token: a warning telling how to log in.
    expect(by['gateway:other']).toMatchObject({status: 'warn', fix: expect.stringContaining('lobu oauth login -c other')})
    expect(by['gateway:other']!.message).toContain(`no token stored for ${other.url}`)
  })

  it('fails for the selected context and warns for the others when a gateway is unreachable', async () => {
    const down = `http://127.0.0.1:${await unusedPort()}`
    addContext('prod', down, env)
    addContext('staging', down.replace('127.0.0.1', 'localhost'), env)
    useContext('prod', env)
    const by = await run()
    expect(by['gateway:prod']).toMatchObject({status: 'fail'})
    expect(by['gateway:prod']!.message).toContain('context prod (current)')
    expect(by['gateway:prod']!.message).toContain('unreachable: connection refused')
    expect(by['gateway:prod']!.fix).toContain('lobu context remove prod')
    expect(by['gateway:staging']!.status).toBe('warn')
    expect(by['gateway:local']!.status).toBe('ok')
  })

  it('with --context checks only that context; an unknown one is a usage error', async () => {
    const gw = await serve()
    addContext('prod', gw.url, env)
    const by = await run({context: 'prod'})
    expect(Object.keys(by)).toEqual(['gateway:prod'])
    expect(by['gateway:prod']!.message).toContain('context prod (selected)')
    await expect(run({context: 'nope'})).rejects.toBeInstanceOf(UsageError)
  })

  it('fails when the stored token is rejected, and uses LOBU_TOKEN for the selected context', async () => {
    const gw = await serve({tokens: {'tok-env': {user: 'ci', org: 'acme', expiresAt: null}}})
    addContext('prod', gw.url, env)
    useContext('prod', env)
    store(gw.url, 'tok-revoked')
    const rejected = (await run())['gateway:prod']!
    expect(rejected.status).toBe('fail')
    expect(rejected.message).toContain('stored token rejected (HTTP 401)')
    expect(rejected.fix).toContain('lobu oauth login -c prod')

    env.LOBU_TOKEN = 'tok-env'
    const viaEnv = (await run())['gateway:prod']!
    expect(viaEnv).toMatchObject({status: 'ok'})
    expect(viaEnv.message).toContain('signed in as ci in org acme (LOBU_TOKEN, never expires)')

    env.LOBU_TOKEN = 'tok-bad'
    expect((await run())['gateway:prod']).toMatchObject({status: 'fail', fix: expect.stringContaining('LOBU_TOKEN is rejected')})
  })

  it('warns when the token expires within a week', async () => {
    const soon = new Date(now.getTime() + 2 * DAY).toISOString()
    const gw = await serve({tokens: {tok: {user: 'ada', org: 'acme', expiresAt: soon}}})
    addContext('prod', gw.url, env)
    store(gw.url, 'tok', soon)
    const c = (await run())['gateway:prod']!
    expect(c.status).toBe('warn')
    expect(c.message).toContain('expires 2030-01-03 (in 2 days)')
  })

  it('reports a stored token that has expired on an unreachable gateway', async () => {
    const url = `http://127.0.0.1:${await unusedPort()}`
    addContext('prod', url, env)
    useContext('prod', env)
    store(url, 'tok', new Date(now.getTime() - DAY).toISOString())
    const c = (await run())['gateway:prod']!
    expect(c.status).toBe('fail')
    expect(c.message).toContain('stored token expired 2029-12-31')
  })

  it('fails when what answers is not a Lobu gateway, and names a timeout', async () => {
    const web = await serve({health: 'not-lobu'})
    const hang = await serve({health: 'hang'})
    addContext('web', web.url, env)
    addContext('slow', hang.url, env)
    const by = await run({timeoutMs: 300})
    expect(by['gateway:web']!.message).toContain('not a Lobu gateway answers (GET /health: HTTP 404)')
    expect(by['gateway:slow']!.message).toContain('unreachable: no answer within 0.3 s')
  })

  it('says when a gateway is starting', async () => {
    const gw = await serve({health: 'starting'})
    addContext('prod', gw.url, env)
    expect((await run())['gateway:prod']!.message).toContain('up, starting or stopping')
  })

  it('warns when the local gateway serves another project', async () => {
    const gw = await serve({project: 'other', tokens: {tok: {user: 'root', org: 'local', expiresAt: null}}})
    store(gw.url, 'tok')
    // `local` in a project is the gateway its .lobu/gateway.json names
    for (const id of ['mine', 'other']) writeProjectGateway(join(tmp.root, id), {url: gw.url, projectId: id})
    const c = (await run({project: project('mine')}))['gateway:local']!
    expect(c.status).toBe('warn')
    expect(c.message).toContain('serves project "other", not "mine" (this directory)')
    expect((await run({project: project('other')}))['gateway:local']!.status).toBe('ok')
  })

  it('explains an unreadable credentials.json without failing each gateway again', async () => {
    const gw = await serve()
    addContext('prod', gw.url, env)
    store(gw.url, 'tok')
    chmodSync(join(tmp.root, 'cfg', 'credentials.json'), 0o644)
    const c = (await run())['gateway:prod']!
    expect(c.status).toBe('warn')
    expect(c.message).toContain('token unreadable: credentials.json is readable by other users')
  })

  it('fails on a corrupt config.json or an unknown current context', async () => {
    writeFileSync(join(tmp.root, 'cfg', 'config.json'), JSON.stringify({version: 1, current: 'gone', contexts: {}}))
    const unknown = await run()
    expect(unknown.contexts).toMatchObject({status: 'fail'})
    expect(unknown.contexts!.message).toContain('unknown context "gone"')
    expect(unknown['gateway:local']).toBeDefined()

    mkdirSync(join(tmp.root, 'cfg'), {recursive: true})
    writeFileSync(join(tmp.root, 'cfg', 'config.json'), '{oops')
    const corrupt = await run()
    expect(Object.keys(corrupt)).toEqual(['contexts'])
    expect(corrupt.contexts!.message).toContain('is not valid JSON')
  })
})

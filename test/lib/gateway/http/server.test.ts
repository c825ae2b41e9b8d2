import {existsSync} from 'node:fs'
import {mkdtemp, readFile, readdir, rm, stat} from 'node:fs/promises'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {InvalidEncryptionKeyError} from '../../../../src/lib/gateway/crypto/index.js'
import {Readiness} from '../../../../src/lib/gateway/readiness.js'
import {DataDirLockedError} from '../../../../src/lib/gateway/store/lock.js'
import {PortInUseError, startGateway, type RunningGateway} from '../../../../src/lib/gateway/server.js'
import type {Store} from '../../../../src/lib/gateway/store/types.js'
import {rawRequest} from '../../../support/gateway.js'
import {storeDrivers} from '../../../support/store.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lobu-gw-'))
  cleanups.push(() => rm(dir, {recursive: true, force: true}))
  return dir
}

function occupyPort(): Promise<{server: Server; port: number}> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => resolve({server, port: (server.address() as {port: number}).port}))
  })
}

const quiet = () => {}

describe('startGateway', () => {
  it('a busy port fails with PortInUseError before anything is written', async () => {
    const {server, port} = await occupyPort()
    cleanups.push(() => new Promise((r) => server.close(r)))
    const dir = await tempDir()
    const dataDir = join(dir, 'data')
    const err = await startGateway({port, dataDir, version: 't', env: {}, logger: quiet}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PortInUseError)
    expect((err as PortInUseError).port).toBe(port)
    expect((err as PortInUseError).kind).toBe('failed')
    expect((err as PortInUseError).message).toContain(`port ${port} is in use`)
    expect(existsSync(dataDir)).toBe(false)
    expect(await readdir(dir)).toEqual([])
  })

  it('a malformed ENCRYPTION_KEY stops the boot (exit 2) and leaves no lock and no listener', async () => {
    const dataDir = join(await tempDir(), 'data')
    let url = ''
    const err = await startGateway({port: 0, dataDir, version: 't', env: {ENCRYPTION_KEY: 'not-a-key'}, logger: quiet, onListening: (u) => (url = u)}).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(InvalidEncryptionKeyError)
    expect((err as InvalidEncryptionKeyError).kind).toBe('usage')
    expect((err as Error).message).not.toContain('not-a-key')
    expect(existsSync(join(dataDir, 'gateway.lock'))).toBe(false)
    await expect(rawRequest(`${url}/health`)).rejects.toThrow()
  })

  it('boots on a real data dir: lock, key, health; a second gateway on it is refused; close releases', async () => {
    const dataDir = join(await tempDir(), 'data')
    const gw = await startGateway({port: 0, dataDir, version: '1.2.3', env: {}, logger: quiet, project: {id: 'p1', root: '/x'}})
    cleanups.push(() => gw.close())
    expect(gw.url).toBe(`http://127.0.0.1:${gw.port}`)
    const health = await rawRequest(`${gw.url}/health`)
    expect(health.body).toEqual({status: 'ready', ok: true, version: '1.2.3', project: 'p1'})
    const lock = JSON.parse(await readFile(join(dataDir, 'gateway.lock'), 'utf8'))
    expect(lock).toMatchObject({pid: process.pid, url: gw.url})
    expect((await stat(join(dataDir, 'encryption.key'))).mode & 0o777).toBe(0o600)
    const cli = await gw.ensureLocalCliToken()

    let secondUrl = ''
    const second = await startGateway({port: 0, dataDir, version: '1.2.3', env: {}, logger: quiet, onListening: (u) => (secondUrl = u)}).catch((e: unknown) => e)
    expect(second).toBeInstanceOf(DataDirLockedError)
    await expect(rawRequest(`${secondUrl}/health`)).rejects.toThrow() // its listener was closed
    expect((second as DataDirLockedError).pid).toBe(process.pid)
    expect((await rawRequest(`${gw.url}/api/v1/whoami`, {headers: {authorization: `Bearer ${cli.token}`}})).status).toBe(200)

    await gw.close()
    await gw.close() // idempotent
    expect(existsSync(join(dataDir, 'gateway.lock'))).toBe(false)
    await expect(rawRequest(`${gw.url}/health`)).rejects.toThrow()

    // Second boot of the same data dir: the stored token is kept.
    const again = await startGateway({port: 0, dataDir, version: '1.2.3', env: {}, logger: quiet})
    cleanups.push(() => again.close())
    const kept = await again.ensureLocalCliToken(cli.token)
    expect(kept).toMatchObject({token: cli.token, created: false})
    await again.close()
  })
})

describe.each(storeDrivers().map((d) => [d.name, d] as const))('startGateway over a store (%s)', (_name, driver) => {
  const open = async () => {
    const {store, cleanup} = await driver.open()
    cleanups.push(cleanup)
    return store
  }

  it('answers 503 until the store is ready, then serves', async () => {
    const store = await open()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const gated = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'transaction') {
          return async (fn: Parameters<Store['transaction']>[0]) => {
            await gate
            return target.transaction(fn)
          }
        }
        const value = Reflect.get(target, prop, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    let url = ''
    const starting = startGateway({
      port: 0,
      store: gated,
      installKey: Buffer.alloc(32, 1),
      version: 't',
      env: {},
      logger: quiet,
      onListening: (u) => (url = u),
    })
    // Wait for the port, then ask while bootstrap is blocked.
    while (!url) await new Promise((r) => setTimeout(r, 5))
    const early = await rawRequest(`${url}/health`)
    release()
    const gw = await starting
    cleanups.push(() => gw.close())
    expect(early.status).toBe(503)
    expect(early.body.error.code).toBe('UNAVAILABLE')
    expect(early.body.status).toBe('starting')
    expect((await rawRequest(`${url}/health`)).status).toBe(200)
  })

  it('/health stays 503 {status: "starting"} until every registered boot step is done, while the API already answers', async () => {
    const store = await open()
    const readiness = new Readiness()
    const tokenStored = readiness.add('cli token')
    const applied = readiness.add('auto-apply')
    const gw = await startGateway({port: 0, store, installKey: Buffer.alloc(32, 3), version: 't', env: {}, logger: quiet, readiness})
    cleanups.push(() => gw.close())
    const before = await rawRequest(`${gw.url}/health`)
    expect(before.status).toBe(503)
    expect(before.body).toMatchObject({status: 'starting', waitingFor: ['cli token', 'auto-apply']})
    expect((await rawRequest(`${gw.url}/api/v1/whoami`)).status).toBe(401) // the API serves (the auto-apply needs it)
    tokenStored()
    expect((await rawRequest(`${gw.url}/health`)).body.waitingFor).toEqual(['auto-apply'])
    applied()
    const after = await rawRequest(`${gw.url}/health`)
    expect(after.status).toBe(200)
    expect(after.body).toMatchObject({status: 'ready', version: 't'})
  })

  it('an aborted boot signal stops the boot at the next stage: the lock is released and the store closed', async () => {
    const dataDir = join(await tempDir(), 'data')
    const controller = new AbortController()
    const reason = new Error('stop')
    const err = await startGateway({
      port: 0,
      dataDir,
      version: 't',
      env: {},
      logger: quiet,
      installKey: Buffer.alloc(32, 4),
      signal: controller.signal,
      onStage: (stage) => {
        if (stage === 'locked') controller.abort(reason)
      },
    }).catch((e: unknown) => e)
    expect(err).toBe(reason)
    expect(existsSync(join(dataDir, 'gateway.lock'))).toBe(false)
  })

  it('runs shutdown hooks once, aborts the shutdown signal, stops serving and leaves the injected store open', async () => {
    const store = await open()
    const gw: RunningGateway = await startGateway({port: 0, store, installKey: Buffer.alloc(32, 2), version: 't', env: {}, logger: quiet})
    const calls: string[] = []
    gw.onShutdown(() => void calls.push('first'))
    gw.onShutdown(async () => void calls.push(`second aborted=${gw.services.lifecycle.signal.aborted}`))
    await Promise.all([gw.close(), gw.close()])
    expect(calls).toEqual(['second aborted=true', 'first'])
    await expect(rawRequest(`${gw.url}/health`)).rejects.toThrow()
    expect(await store.orgs.getBySlug('local')).toBeDefined()
  })

  it('system providers follow the env across boots; tokens survive', async () => {
    const store = await open()
    const boot = (env: NodeJS.ProcessEnv) => startGateway({port: 0, store, installKey: Buffer.alloc(32, 3), version: 't', env, logger: quiet})
    const first = await boot({OPENAI_API_KEY: 'sk-a', MISTRAL_API_KEY: 'sk-b'})
    const cli = await first.ensureLocalCliToken()
    const agents = async (gw: RunningGateway) =>
      (await rawRequest(`${gw.url}/api/v1/agents/default`, {headers: {authorization: `Bearer ${cli.token}`}})).body.providers
    expect(await agents(first)).toEqual([
      {id: 'openai', model: 'gpt-4o-mini', keySource: 'env:OPENAI_API_KEY'},
      {id: 'mistral', model: 'mistral-small-latest', keySource: 'env:MISTRAL_API_KEY'},
    ])
    expect(first.systemProviders.map((p) => p.id)).toEqual(['openai', 'mistral'])
    await first.close()

    const second = await boot({DEEPSEEK_API_KEY: 'sk-c'})
    cleanups.push(() => second.close())
    expect(await agents(second)).toEqual([{id: 'deepseek', model: 'deepseek-chat', keySource: 'env:DEEPSEEK_API_KEY'}])
    expect((await second.ensureLocalCliToken(cli.token)).created).toBe(false)
  })
})

describe('drain and whenIdle', () => {
  it('drain refuses new turns with 503 and a hint while other requests are served; whenIdle waits for a quiet moment', async () => {
    const {startTestGateway} = await import('../../../support/gateway.js')
    const gw = await startTestGateway()
    cleanups.push(() => gw.close())
    const session = await gw.api('/api/v1/sessions', {method: 'POST', body: {thread: 't'}})
    expect(session.status).toBe(201)
    expect(gw.gateway.inFlight()).toEqual({requests: 0, turns: 0})
    expect(await gw.gateway.whenIdle(50)).toBe(true)

    expect(await gw.gateway.drain(1_000)).toBe(true) // no turn running: at once
    const refused = await gw.api(`/api/v1/sessions/${session.body.sessionKey}/messages`, {method: 'POST', body: {content: 'hi'}})
    expect(refused.status).toBe(503)
    expect(refused.body.error).toMatchObject({code: 'UNAVAILABLE', message: expect.stringContaining('stopping'), hint: expect.stringContaining('lobu run')})
    expect((await gw.api('/health')).status).toBe(200)
    expect((await gw.api('/api/v1/whoami')).status).toBe(200)

    const aborted = new AbortController()
    aborted.abort()
    expect(await gw.gateway.whenIdle(60_000, aborted.signal)).toBe(false)
  })
})

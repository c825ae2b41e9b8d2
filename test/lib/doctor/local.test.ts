import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {Project} from '../../../src/lib/config/index.js'
import {checkDataDir, checkEncryptionKey, checkPort, portState} from '../../../src/lib/doctor/index.js'
import {acquireDataDirLock} from '../../../src/lib/gateway/store/lock.js'
import {type FakeGateway, type TempDir, fakeGateway, tempDir} from './helpers.js'

let tmp: TempDir
let env: NodeJS.ProcessEnv
const closers: Array<() => Promise<unknown>> = []

beforeEach(() => {
  tmp = tempDir()
  env = {HOME: join(tmp.root, 'home'), XDG_DATA_HOME: join(tmp.root, 'xdg')}
})

afterEach(async () => {
  for (const close of closers.splice(0)) await close()
  tmp.cleanup()
})

/** A project held in memory: what the checks read of it. */
function project(opts: {port?: number; id?: string; root?: string} = {}): Project {
  const root = opts.root ?? join(tmp.root, 'demo')
  return {
    root,
    file: join(root, 'lobu.toml'),
    displayFile: 'lobu.toml',
    config: {agents: {}, ...(opts.port ? {gateway: {port: opts.port}} : {}), ...(opts.id ? {project: {id: opts.id}} : {})},
    warnings: [],
    env: {},
  }
}

function lockFile(dir: string, pid: number, url: string | null = null): void {
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, 'gateway.lock'), JSON.stringify({pid, url, startedAt: new Date().toISOString()}))
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!
}

describe('checkDataDir', () => {
  it('reports the PostgreSQL server of DATABASE_URL without its password', async () => {
    const c = await checkDataDir({env: {...env, DATABASE_URL: 'postgres://lobu:hunter2@db.test:5432/lobu'}})
    expect(c.status).toBe('ok')
    expect(c.message).toContain('postgres://lobu:***@db.test:5432/lobu')
    expect(c.message).not.toContain('hunter2')
  })

  it('is fine when the data dir does not exist yet, and does not create it', async () => {
    const p = project()
    const c = await checkDataDir({env, project: p})
    const dir = join(p.root, '.lobu', 'data')
    expect(c).toMatchObject({status: 'ok', message: `data dir ${dir} does not exist yet (created by the first \`lobu run\`)`})
    expect(existsSync(dir)).toBe(false)
  })

  it('follows LOBU_DATA_DIR, then the XDG data dir outside a project', async () => {
    expect((await checkDataDir({env: {...env, LOBU_DATA_DIR: join(tmp.root, 'custom')}})).message).toContain(join(tmp.root, 'custom'))
    expect((await checkDataDir({env})).message).toContain(join(tmp.root, 'xdg', 'lobu', 'data'))
  })

  it('is fine when the data dir is not locked', async () => {
    mkdirSync(join(tmp.root, 'd'))
    const c = await checkDataDir({env: {...env, LOBU_DATA_DIR: join(tmp.root, 'd')}})
    expect(c).toMatchObject({status: 'ok'})
    expect(c.message).toContain('not locked')
  })

  it('names the live pid and URL of a held lock (this process holds it)', async () => {
    const dir = join(tmp.root, 'd')
    const lock = await acquireDataDirLock(dir)
    closers.push(() => lock.release())
    await lock.updateUrl('http://127.0.0.1:8799')
    const c = await checkDataDir({env: {...env, LOBU_DATA_DIR: dir}})
    expect(c).toMatchObject({status: 'ok', message: `data dir ${dir}: in use by a live gateway, pid ${process.pid} at http://127.0.0.1:8799`})
  })

  it('names a live pid of another process holding the lock', async () => {
    const dir = join(tmp.root, 'd')
    lockFile(dir, process.ppid, null)
    const c = await checkDataDir({env: {...env, LOBU_DATA_DIR: dir}})
    expect(c.status).toBe('ok')
    expect(c.message).toContain(`pid ${process.ppid} (port not bound yet)`)
  })

  it('warns about the stale lock of a dead pid, and leaves it in place', async () => {
    const dir = join(tmp.root, 'd')
    const pid = deadPid()
    lockFile(dir, pid, 'http://127.0.0.1:8787')
    const c = await checkDataDir({env: {...env, LOBU_DATA_DIR: dir}})
    expect(c.status).toBe('warn')
    expect(c.message).toContain(`stale lock of pid ${pid}`)
    expect(c.fix).toContain('the next `lobu run` takes it over')
    expect(existsSync(join(dir, 'gateway.lock'))).toBe(true)
  })

  it('fails when the data dir is a file', async () => {
    writeFileSync(join(tmp.root, 'f'), '')
    const c = await checkDataDir({env: {...env, LOBU_DATA_DIR: join(tmp.root, 'f')}})
    expect(c.status).toBe('fail')
  })
})

describe('checkEncryptionKey', () => {
  const key = Buffer.alloc(32, 7).toString('base64')

  it('accepts a well-formed ENCRYPTION_KEY and rejects a malformed one without echoing it', () => {
    expect(checkEncryptionKey({env: {...env, ENCRYPTION_KEY: key}}).status).toBe('ok')
    const bad = checkEncryptionKey({env: {...env, ENCRYPTION_KEY: 'tooshort-secret'}})
    expect(bad.status).toBe('fail')
    expect(bad.message).toContain('32 bytes')
    expect(bad.message).not.toContain('tooshort-secret')
  })

  it('fails when DATABASE_URL is set without ENCRYPTION_KEY', () => {
    const c = checkEncryptionKey({env: {...env, DATABASE_URL: 'postgres://db.test/lobu'}})
    expect(c.status).toBe('fail')
    expect(c.fix).toContain('openssl rand -base64 32')
  })

  it('checks the key file of the data dir: absent, 0600, readable by others, corrupt', () => {
    const dir = join(tmp.root, 'd')
    const e = {...env, LOBU_DATA_DIR: dir}
    expect(checkEncryptionKey({env: e}).message).toContain('generated on the first boot')
    expect(existsSync(join(dir, 'encryption.key'))).toBe(false)

    mkdirSync(dir)
    const file = join(dir, 'encryption.key')
    writeFileSync(file, key + '\n', {mode: 0o600})
    chmodSync(file, 0o600)
    expect(checkEncryptionKey({env: e})).toMatchObject({status: 'ok', message: `encryption key: ${file}`})

    chmodSync(file, 0o644)
    expect(checkEncryptionKey({env: e})).toMatchObject({status: 'fail', fix: `chmod 600 ${file}`})

    chmodSync(file, 0o600)
    writeFileSync(file, 'garbage')
    expect(checkEncryptionKey({env: e}).status).toBe('fail')
  })
})

describe('checkPort', () => {
  async function serve(opts: Parameters<typeof fakeGateway>[0]): Promise<FakeGateway> {
    const gw = await fakeGateway(opts)
    closers.push(() => gw.close())
    return gw
  }

  it('passes when the port is free, and leaves it free', async () => {
    const gw = await serve({})
    const port = gw.port
    await gw.close()
    closers.pop()
    const c = await checkPort({project: project({port}), timeoutMs: 1000})
    expect(c).toEqual({id: 'port', status: 'ok', message: `port ${port} (gateway.port of lobu.toml) is free`})
    expect(await portState(port)).toEqual({free: true})
  })

  it('is fine when the Lobu gateway of this project holds it', async () => {
    const gw = await serve({project: 'demo', version: '1.2.3'})
    const c = await checkPort({project: project({port: gw.port, id: 'demo'}), timeoutMs: 1000})
    expect(c).toMatchObject({status: 'ok', message: `port ${gw.port} is in use by the Lobu gateway 1.2.3 of this project ("demo")`})
  })

  it('warns when a Lobu gateway of another project holds it', async () => {
    const gw = await serve({project: 'other'})
    const c = await checkPort({project: project({port: gw.port, root: join(tmp.root, 'mine')}), timeoutMs: 1000})
    expect(c.status).toBe('warn')
    expect(c.message).toContain('serving project "other", not "mine" (this directory)')
    expect(c.fix).toContain('gateway.port')
  })

  it('fails when something that is not a Lobu gateway holds it', async () => {
    const gw = await serve({health: 'not-lobu'})
    const c = await checkPort({project: project({port: gw.port}), timeoutMs: 1000})
    expect(c.status).toBe('fail')
    expect(c.message).toContain('not a Lobu gateway (GET /health: HTTP 404)')
  })

  it('fails when a program that does not speak HTTP holds it', async () => {
    const server = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise((resolve) => server.close(resolve)))
    const port = (server.address() as {port: number}).port
    const c = await checkPort({project: project({port}), timeoutMs: 1000})
    expect(c.status).toBe('fail')
    expect(c.message).toContain('does not answer HTTP')
  })
})

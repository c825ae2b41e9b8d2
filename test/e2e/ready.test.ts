/**
 * Ready means usable, and a signal at any moment of a boot stops it cleanly (the built CLI):
 * - `/health` polled every 5 ms answers 200 only once the CLI token is stored and the auto-apply
 *   is done: a `lobu chat -c local` sent at once finds both;
 * - SIGINT / SIGTERM at each stage of a `lobu run` boot (paused there with the test hook
 *   LOBU_TEST_BOOT_PAUSE) exits 130 / 143, never by the signal, and leaves no gateway.lock;
 *   after ready it exits 0; the same for the embedded boot of `lobu chat`.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startFakeProvider, type FakeProvider} from '../support/fake-provider.js'
import {type Sandbox, type Spawned, createSandbox, freePort, runLobu, spawnLobu} from './helpers.js'

let fake: FakeProvider
let sandbox: Sandbox
let env: Record<string, string>
const running: Spawned[] = []

beforeAll(async () => {
  fake = await startFakeProvider()
  sandbox = await createSandbox()
  env = {OPENAI_API_KEY: 'sk-ready-test', OPENAI_BASE_URL: fake.urls.openai}
})

afterAll(async () => {
  for (const s of running) s.child.kill('SIGKILL')
  await Promise.all(running.map((s) => s.exited))
  await fake?.close()
  await sandbox?.cleanup()
})

/** A fresh `lobu init` project on its own free port. */
async function newProject(name: string): Promise<{dir: string; port: number}> {
  const port = await freePort()
  const r = await runLobu(['init', name, '--yes', '--port', String(port)], {sandbox, env})
  expect(r.exitCode, r.stderr).toBe(0)
  return {dir: path.join(sandbox.work, name), port}
}

async function spawn(args: string[], cwd: string, extra: Record<string, string> = {}): Promise<Spawned> {
  const spawned = await spawnLobu(args, {cwd, sandbox, env: {...env, ...extra}})
  running.push(spawned)
  return spawned
}

/** The exit code and the killing signal (if the process died of one). */
async function outcome(spawned: Spawned): Promise<{code: number | undefined; signal: string | undefined}> {
  const r = await spawned.child
  return {code: r.exitCode ?? undefined, signal: r.signal ?? undefined}
}

async function waitFor(spawned: Spawned, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (pattern.test(spawned.stderr())) return
    if (spawned.child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 25))
  }
  // A process left running would hold the project's lock and fail every later case.
  spawned.child.kill('SIGKILL')
  throw new Error(`never printed ${pattern}:\n${spawned.stderr()}`)
}

describe('ready means usable', () => {
  it('the first 200 of /health (polled every 5 ms) comes with the token stored and lobu.toml applied: a chat sent at once works', async () => {
    for (const name of ['ready-a', 'ready-b']) {
      const {dir, port} = await newProject(name)
      const spawned = await spawn(['run'], dir)
      const url = `http://127.0.0.1:${port}`
      const seen: number[] = []
      let body: any
      for (let i = 0; i < 12_000 && body === undefined; i++) {
        try {
          const res = await fetch(`${url}/health`)
          seen.push(res.status)
          if (res.status === 200) body = await res.json()
          else expect(await res.json()).toMatchObject({status: 'starting'})
        } catch {
          // not listening yet
        }
        if (body === undefined) await new Promise((r) => setTimeout(r, 5))
      }
      expect(body, spawned.stderr()).toMatchObject({status: 'ready', version: expect.any(String), project: expect.stringMatching(new RegExp(`^${name}`))})
      const chat = await runLobu(['chat', '-c', 'local', '--no-boot', 'hi'], {cwd: dir, sandbox, env})
      expect(chat.exitCode, chat.stderr).toBe(0)
      expect(chat.stdout).toBe('echo: hi\n')
      expect(seen.every((s) => s === 200 || s === 503)).toBe(true)
      spawned.child.kill('SIGTERM')
      expect(await outcome(spawned)).toEqual({code: 0, signal: undefined})
      expect(existsSync(path.join(dir, '.lobu', 'data', 'gateway.lock'))).toBe(false)
    }
  })
})

describe('signals during a boot', () => {
  let project: {dir: string; port: number}
  beforeAll(async () => {
    project = await newProject('signals')
  })

  const stages = ['started', 'gateway modules loaded', 'listening', 'locked', 'store ready', 'gateway serving', 'cli token saved', 'auto-apply done']
  const cases = stages.flatMap((stage, i) => [[stage, i % 2 === 0 ? 'SIGINT' : 'SIGTERM'] as const])

  it.each(cases)('lobu run: at "%s" a %s exits 128+n and leaves no lock', async (stage, signal) => {
    const spawned = await spawn(['run'], project.dir, {LOBU_TEST_BOOT_PAUSE: stage})
    await waitFor(spawned, new RegExp(`\\[pause\\] ${stage}\\n`))
    spawned.child.kill(signal)
    expect(await outcome(spawned), spawned.stderr()).toEqual({code: signal === 'SIGINT' ? 130 : 143, signal: undefined})
    expect(existsSync(path.join(project.dir, '.lobu', 'data', 'gateway.lock'))).toBe(false)
    expect(spawned.stderr()).toContain(`${signal} received: the boot was stopped`)
  })

  it('lobu run: a signal once ready exits 0 and leaves no lock; the next boot works', async () => {
    const spawned = await spawn(['run'], project.dir)
    await waitFor(spawned, /Try: lobu chat/)
    spawned.child.kill('SIGTERM')
    expect(await outcome(spawned)).toEqual({code: 0, signal: undefined})
    expect(existsSync(path.join(project.dir, '.lobu', 'data', 'gateway.lock'))).toBe(false)
  })

  it.each([
    ['locked', 'SIGTERM'],
    ['store ready', 'SIGINT'],
    ['auto-apply done', 'SIGTERM'],
  ] as const)('lobu chat (embedded boot): at "%s" a %s exits 128+n and leaves no lock', async (stage, signal) => {
    const spawned = await spawn(['chat', 'hello'], project.dir, {LOBU_TEST_BOOT_PAUSE: stage})
    await waitFor(spawned, new RegExp(`\\[pause\\] ${stage}\\n`))
    spawned.child.kill(signal)
    expect(await outcome(spawned), spawned.stderr()).toEqual({code: signal === 'SIGINT' ? 130 : 143, signal: undefined})
    expect(existsSync(path.join(project.dir, '.lobu', 'data', 'gateway.lock'))).toBe(false)
  })
})

/**
 * Several shells at once, end to end: two `lobu chat` with no gateway running both finish (one
 * boots a temporary gateway, the other waits for it and uses it; the temporary gateway stays up
 * until the other shell's turn has ended), and `lobu run`'s SIGINT lets a running turn finish
 * while a new turn is refused with 503 and a hint.
 */
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {startFakeProvider, type FakeProvider} from '../support/fake-provider.js'
import {type Sandbox, type Spawned, createSandbox, freePort, runLobu, spawnLobu, waitForStderr} from './helpers.js'

let sandbox: Sandbox
let fake: FakeProvider
let env: Record<string, string>
let project: string
const running: Spawned[] = []

const CHUNKS = Array.from({length: 8}, (_, i) => `w${i} `)
const FULL = CHUNKS.join('') + '\n'

beforeAll(async () => {
  fake = await startFakeProvider()
  sandbox = await createSandbox()
  env = {OPENAI_API_KEY: 'sk-concurrent', OPENAI_BASE_URL: fake.urls.openai}
  const r = await runLobu(['init', 'delta', '--yes', '--agent', 'delta', '--port', String(await freePort())], {cwd: sandbox.work, sandbox, env})
  expect(r.exitCode, r.stderr).toBe(0)
  project = path.join(sandbox.work, 'delta')
})

afterAll(async () => {
  for (const s of running) s.child.kill('SIGKILL')
  await Promise.all(running.map((s) => s.exited))
  await fake?.close()
  await sandbox?.cleanup()
})

beforeEach(() => {
  fake.reset()
  fake.reply({chunks: CHUNKS, delayMs: 300})
})

const lockFile = () => path.join(project, '.lobu', 'data', 'gateway.lock')
const gatewayFile = () => path.join(project, '.lobu', 'gateway.json')

describe('two shells chatting at once with no gateway running', () => {
  it('started together: both answer in full; nothing is left behind', async () => {
    const [a, b] = await Promise.all([
      runLobu(['chat', 'first'], {cwd: project, sandbox, env, timeout: 90_000}),
      runLobu(['chat', 'second'], {cwd: project, sandbox, env, timeout: 90_000}),
    ])
    expect(a.exitCode, a.stderr).toBe(0)
    expect(b.exitCode, b.stderr).toBe(0)
    expect(a.stdout).toBe(FULL)
    expect(b.stdout).toBe(FULL)
    expect(existsSync(lockFile())).toBe(false)
    expect(existsSync(gatewayFile())).toBe(false)
  })

  it('the second attaches to the first one’s temporary gateway, which stays up until the second turn has ended', async () => {
    // the first turn is long enough for the second chat process to start and attach; the second
    // one ends after it
    fake.reset()
    fake.script({chunks: CHUNKS, delayMs: 700}, {chunks: CHUNKS, delayMs: 1000})
    const first = await spawnLobu(['chat', 'first'], {cwd: project, sandbox, env, timeout: 90_000})
    running.push(first)
    // the temporary gateway is ready once it is recorded for the project
    const deadline = Date.now() + 60_000
    while (!existsSync(gatewayFile()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(existsSync(gatewayFile())).toBe(true)
    const second = await runLobu(['chat', 'second'], {cwd: project, sandbox, env, timeout: 90_000})
    expect(second.exitCode, second.stderr).toBe(0)
    expect(second.stdout).toBe(FULL)
    expect(second.stderr).not.toMatch(/starting an embedded one/i)
    expect(await first.exited).toBe(0)
    expect(String((await first.child).stdout)).toBe(FULL.slice(0, -1))
    expect(existsSync(lockFile())).toBe(false)
  })
})

describe('lobu run and SIGINT', () => {
  it('a running turn finishes; a new turn gets 503 with a hint; then it exits 0', async () => {
    fake.reply({chunks: CHUNKS, delayMs: 450}) // ~3 s: well inside the 5 s it is given
    const port = await freePort()
    const run = await spawnLobu(['run', '--port', String(port)], {cwd: project, sandbox, env})
    running.push(run)
    await waitForStderr(run, /Try: lobu chat/)
    const chat = spawnLobu(['chat', 'long one'], {cwd: project, sandbox, env})
    const started = await chat
    running.push(started)
    // wait until the provider has been asked (the turn runs), then stop the gateway
    const deadline = Date.now() + 30_000
    while (fake.requests.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const url = `http://127.0.0.1:${port}`
    const creds = JSON.parse(await readFile(path.join(sandbox.configDir, 'credentials.json'), 'utf8'))
    const headers = {authorization: `Bearer ${creds.origins[url].accounts[0].token}`, 'content-type': 'application/json'}
    const session = (await (await fetch(`${url}/api/v1/sessions`, {method: 'POST', headers, body: JSON.stringify({thread: 'late'})})).json()) as {sessionKey: string}
    run.child.kill('SIGINT')
    await waitForStderr(run, /letting 1 running turn finish/)
    const refused = await fetch(`${url}/api/v1/sessions/${session.sessionKey}/messages`, {method: 'POST', headers, body: JSON.stringify({content: 'too late'})})
    expect(refused.status).toBe(503)
    expect(((await refused.json()) as {error: {message: string; hint: string}}).error).toMatchObject({message: expect.stringContaining('the gateway is stopping'), hint: expect.stringContaining('lobu run')})
    expect(await started.exited).toBe(0)
    expect(String((await started.child).stdout)).toBe(FULL.slice(0, -1))
    expect(await run.exited).toBe(0)
    expect(existsSync(gatewayFile())).toBe(false)
  })
})

/**
 * `lobu chat` end to end: the built CLI against a test gateway and the fake provider, and the
 * embedded boot in a fresh `lobu init` project.
 */
import {existsSync} from 'node:fs'
import {createServer} from 'node:net'
import * as path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../src/lib/gateway/crypto/index.js'
import {startFakeProvider, type FakeProvider} from '../support/fake-provider.js'
import {startTestGateway, type TestGateway} from '../support/gateway.js'
import {BIN, createSandbox, runLobu, type Sandbox} from './helpers.js'

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}

describe('lobu chat against a gateway', () => {
  let fake: FakeProvider
  let gw: TestGateway
  let sandbox: Sandbox
  let env: Record<string, string>

  const chat = (args: string[], extra: {input?: string; env?: Record<string, string | undefined>} = {}) =>
    runLobu(['chat', '-c', 'gw', ...args], {sandbox, env: {...env, ...extra.env}, input: extra.input})

  beforeAll(async () => {
    fake = await startFakeProvider()
    gw = await startTestGateway({env: {LOBU_PROVIDER_TIMEOUT_MS: '10000'}})
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name: 'OPENAI_API_KEY', ciphertext: encryptSecret(key, 'sk-e2e'), keyedHash: keyedHash(key, 'sk-e2e')})
    const put = await gw.api('/api/v1/agents/oa', {
      method: 'PUT',
      body: {providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]},
    })
    expect(put.status).toBe(201)
    sandbox = await createSandbox()
    env = {LOBU_TOKEN: gw.adminToken}
    const added = await runLobu(['context', 'add', 'gw', '--url', gw.url], {sandbox})
    expect(added.exitCode, added.stderr).toBe(0)
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
    await sandbox?.cleanup()
  })
  beforeEach(() => fake.reset())

  it('prints the reply on stdout and nothing else', async () => {
    const r = await chat(['-a', 'oa', 'hello there'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toBe('echo: hello there\n')
  })

  it('reads the prompt from stdin', async () => {
    const r = await chat(['-a', 'oa', '-'], {input: 'piped question\n'})
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toBe('echo: piped question\n')
  })

  it('--json prints one JSON object per event and nothing else', async () => {
    const r = await chat(['-a', 'oa', '--json', 'json please'])
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    const events = lines.map((l) => JSON.parse(l))
    expect(events[0]).toMatchObject({event: 'turn', data: {agentId: 'oa', provider: 'openai', model: 'gpt-4o-mini'}})
    expect(events.at(-1)).toMatchObject({event: 'done', data: {finishReason: 'stop'}})
    expect(events.filter((e) => e.event === 'delta').map((e) => e.data.text).join('')).toBe('echo: json please')
    const messageId = events[0].data.messageId
    for (const e of events) {
      expect(e.data.messageId).toBe(messageId)
      expect(e.id).toMatch(/^\d+$/)
    }
  })

  it('-C continues the last thread: the provider sees the earlier turn', async () => {
    const first = await chat(['-a', 'oa', 'my name is Ada'])
    expect(first.exitCode, first.stderr).toBe(0)
    const second = await chat(['-a', 'oa', '-C', 'what is my name?'])
    expect(second.exitCode, second.stderr).toBe(0)
    expect(second.stdout).toBe('echo: what is my name?\n')
    const seen = fake.requests.at(-1)!.body.messages.filter((m: any) => m.role !== 'system')
    expect(seen).toEqual([
      {role: 'user', content: 'my name is Ada'},
      {role: 'assistant', content: 'echo: my name is Ada'},
      {role: 'user', content: 'what is my name?'},
    ])
    // Without -C a new thread starts.
    const third = await chat(['-a', 'oa', 'fresh'])
    expect(third.exitCode).toBe(0)
    expect(fake.requests.at(-1)!.body.messages.filter((m: any) => m.role !== 'system')).toHaveLength(1)
  })

  it('-t names a thread; --new starts it afresh', async () => {
    expect((await chat(['-a', 'oa', '-t', 'ticket-7', 'one'])).exitCode).toBe(0)
    expect((await chat(['-a', 'oa', '-t', 'ticket-7', 'two'])).exitCode).toBe(0)
    expect(fake.requests.at(-1)!.body.messages.filter((m: any) => m.role === 'user')).toHaveLength(2)
    expect((await chat(['-a', 'oa', '-t', 'ticket-7', '--new', 'three'])).exitCode).toBe(0)
    expect(fake.requests.at(-1)!.body.messages.filter((m: any) => m.role === 'user')).toHaveLength(1)
    const bad = await chat(['-a', 'oa', '-t', 'a/b', 'x'])
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toContain('thread')
  })

  it('exits 4 with the fix when no model is configured', async () => {
    const r = await chat(['hello?'])
    expect(r.exitCode).toBe(4)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('NO_MODEL_CONFIGURED')
    expect(r.stderr).toContain('"default"')
    expect(r.stderr).toContain('OPENAI_API_KEY')
    expect(r.stderr).toContain('[[agents.default.providers]]')
    expect(r.stderr).toContain('Hint:')
    const j = await chat(['--json', 'hello?'])
    expect(j.exitCode).toBe(4)
    const events = j.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({event: 'error', data: {code: 'NO_MODEL_CONFIGURED'}})
  })

  it('exits 1 when the provider stream is cut', async () => {
    fake.reply('alpha beta gamma delta')
    fake.cutAfter(1)
    const r = await chat(['-a', 'oa', 'cut'])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toBe('alpha \n')
    expect(r.stderr).toContain('PROVIDER_ERROR')
  })

  it('an idle stream is an error, not a silent success', async () => {
    fake.hang()
    const r = await chat(['-a', 'oa', '--timeout', '1', 'anyone?'])
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain('no event for 1 s')
  })

  it('Ctrl-C aborts the turn (the provider request is cancelled) and exits 130', async () => {
    fake.reply({chunks: Array.from({length: 50}, (_, i) => `w${i} `), delayMs: 100})
    const child = execa(process.execPath, [BIN, 'chat', '-c', 'gw', '-a', 'oa', 'long one'], {
      cwd: sandbox.work,
      env: {...sandbox.env, ...env},
      reject: false,
      stdin: 'ignore',
    })
    let out = ''
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('w1')) resolve()
      })
    })
    const index = fake.requests.length - 1
    child.kill('SIGINT')
    const r = await child
    expect(r.exitCode).toBe(130)
    expect(await fake.whenClosed(index)).toEqual({early: true})
  })
})

describe('lobu chat with the embedded gateway', () => {
  let fake: FakeProvider
  let sandbox: Sandbox

  beforeAll(async () => {
    fake = await startFakeProvider()
    sandbox = await createSandbox()
  })
  afterAll(async () => {
    await fake?.close()
    await sandbox?.cleanup()
  })

  it('boots the local gateway for the chat, answers, and leaves no lock behind', async () => {
    const port = await freePort()
    const env = {OPENAI_API_KEY: 'sk-embedded-test', OPENAI_BASE_URL: fake.urls.openai}
    const init = await runLobu(['init', 'demo', '--yes', '--port', String(port)], {sandbox, env})
    expect(init.exitCode, init.stderr).toBe(0)
    const project = path.join(sandbox.work, 'demo')

    const noBoot = await runLobu(['chat', '-c', 'local', '--no-boot', 'hi'], {sandbox, env, cwd: project})
    expect(noBoot.exitCode).toBe(1)
    expect(noBoot.stderr).toContain('lobu run')

    const r = await runLobu(['chat', '-c', 'local', 'hi'], {sandbox, env, cwd: project, timeout: 90_000})
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toBe('echo: hi\n')
    expect(r.stderr).toMatch(/starting an embedded one/i)
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-embedded-test')
    expect(existsSync(path.join(project, '.lobu', 'data', 'gateway.lock'))).toBe(false)

    // Now a token is stored: the chat asks at once, finds nothing listening, and --no-boot still says `lobu run`.
    const stillDown = await runLobu(['chat', '-c', 'local', '--no-boot', 'hi'], {sandbox, env, cwd: project})
    expect(stillDown.exitCode).toBe(1)
    expect(stillDown.stderr).toContain('lobu run')

    // A second chat boots again and continues the thread from the data dir.
    const again = await runLobu(['chat', '-c', 'local', '-C', 'again'], {sandbox, env, cwd: project, timeout: 90_000})
    expect(again.exitCode, again.stderr).toBe(0)
    expect(fake.requests.at(-1)!.body.messages.filter((m: any) => m.role === 'user').map((m: any) => m.content)).toEqual(['hi', 'again'])
  })
})

/**
 * `lobu chat` on real pseudo-terminals (util-linux `script`): a terminal that reports 0 columns
 * gets plain output and the command ends; SIGTERM ends a turn that is waiting on the provider;
 * escape sequences in a model's reply never reach a terminal raw, and reach a pipe byte for byte.
 */
import {execFileSync} from 'node:child_process'

import {execa} from 'execa'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../src/lib/gateway/crypto/index.js'
import {startFakeProvider, type FakeProvider} from '../support/fake-provider.js'
import {startTestGateway, type TestGateway} from '../support/gateway.js'
import {BIN, createSandbox, runLobu, type Sandbox} from './helpers.js'

function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

describe.skipIf(!hasScript())('lobu chat on a pseudo-terminal', () => {
  let fake: FakeProvider
  let gw: TestGateway
  let sandbox: Sandbox

  /**
   * `lobu chat ARGS` inside `script`, on a pty of `cols` columns. The shell prints its pid (the
   * node process after `exec`) first. Output is everything the pty showed, escapes included.
   */
  const onPty = (cols: number, args: string[]) => {
    const command = `stty cols ${cols} rows ${cols === 0 ? 0 : 24}; echo "PID=$$"; exec ${[process.execPath, BIN, 'chat', '-c', 'gw', ...args].map(quote).join(' ')}`
    const env: Record<string, string> = {...(process.env as Record<string, string>), ...sandbox.env, LOBU_TOKEN: gw.adminToken, TERM: 'xterm-256color'}
    // A person at a terminal: no CI, colour allowed.
    delete env.CI
    delete env.NO_COLOR
    for (const k of Object.keys(env)) if (/^LOBU_(?!TOKEN|CONFIG_DIR)/.test(k)) delete env[k]
    return execa('script', ['-qec', command, '/dev/null'], {env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000, maxBuffer: 64 * 1024 * 1024})
  }

  beforeAll(async () => {
    fake = await startFakeProvider()
    gw = await startTestGateway({env: {LOBU_PROVIDER_TIMEOUT_MS: '60000'}})
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name: 'OPENAI_API_KEY', ciphertext: encryptSecret(key, 'sk-e2e'), keyedHash: keyedHash(key, 'sk-e2e')})
    const put = await gw.api('/api/v1/agents/oa', {
      method: 'PUT',
      body: {providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'OPENAI_API_KEY'}}]},
    })
    expect(put.status).toBe(201)
    sandbox = await createSandbox()
    const added = await runLobu(['context', 'add', 'gw', '--url', gw.url], {sandbox})
    expect(added.exitCode, added.stderr).toBe(0)
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
    await sandbox?.cleanup()
  })
  beforeEach(() => fake.reset())

  it('a terminal of 0 columns gets the reply, no spinner, and the command ends', async () => {
    fake.script({chunks: ['one ', 'two ', 'three'], delayMs: 300})
    const r = await onPty(0, ['-a', 'oa', 'count'])
    expect(r.timedOut).toBe(false)
    expect(r.exitCode, String(r.stdout)).toBe(0)
    const out = String(r.stdout)
    expect(out).toContain('one two three')
    // No spinner frame, no cursor movement: the whole session is a few lines.
    expect(out.length).toBeLessThan(2_000)
    expect(out).not.toContain('Thinking')
    expect(out).not.toMatch(/\u001B\[\d*[ABCDGK]/)
  })

  it('the same terminal with a width shows the spinner while it waits', async () => {
    fake.script({chunks: ['late']})
    const r = await onPty(80, ['-a', 'oa', 'wait'])
    expect(r.exitCode, String(r.stdout)).toBe(0)
    expect(String(r.stdout)).toContain('Thinking')
    expect(String(r.stdout)).toContain('late')
  })

  it('SIGTERM ends a turn waiting on the provider, on a 0-column terminal', async () => {
    fake.hang()
    const child = onPty(0, ['-a', 'oa', 'hang on'])
    let seen = ''
    child.stdout?.on('data', (d: Buffer) => {
      seen += d.toString()
    })
    // The turn has started once the gateway has the provider request.
    for (let i = 0; i < 300 && (fake.requests.length === 0 || !/PID=\d+/.test(seen)); i++) await new Promise((r) => setTimeout(r, 50))
    expect(fake.requests.length).toBeGreaterThan(0)
    const pid = Number(/PID=(\d+)/.exec(seen)![1])
    process.kill(pid, 'SIGTERM')
    const r = await child
    expect(r.timedOut).toBe(false)
    expect(r.exitCode).toBe(143)
    expect(String(r.stdout).length).toBeLessThan(2_000)
  })

  it('an OSC 52 clipboard write in a reply reaches the terminal neutralised, a pipe byte for byte', async () => {
    const evil = 'copied \u001B]52;c;cm0gLXJmIH4=\u0007 and \u001B[2J cleared'
    fake.script({chunks: [evil]})
    const tty = await onPty(80, ['-a', 'oa', 'hi'])
    expect(tty.exitCode, String(tty.stdout)).toBe(0)
    const shown = String(tty.stdout)
    expect(shown).not.toContain('\u001B]52')
    expect(shown).not.toContain('\u0007')
    expect(shown).not.toContain('\u001B[2J')
    expect(shown).toContain('copied ␛]52;c;cm0gLXJmIH4=␇ and ␛[2J cleared')

    fake.script({chunks: [evil]})
    const piped = await runLobu(['chat', '-c', 'gw', '-a', 'oa', 'hi'], {sandbox, env: {LOBU_TOKEN: gw.adminToken}})
    expect(piped.exitCode, piped.stderr).toBe(0)
    expect(piped.stdout).toBe(evil + '\n')
  })
})

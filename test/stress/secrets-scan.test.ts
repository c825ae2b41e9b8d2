/**
 * A secrets scan over every output of a full scenario with the built CLI (`npm run build`
 * first): init, run, apply, token create, chat, whoami, token list, context list (and their
 * `--json` variants), with known provider keys in the environment and a `.env`. Every stdout,
 * stderr, every file under `.lobu/` (the database files too: keys from the environment are never
 * stored, tokens only as hashes) and the gateway's responses are searched for those values, for
 * the stored CLI token, for the token `token create` minted (outside the one output that hands
 * it over) and for the install key. The only places a secret may appear are the files made to
 * hold it: credentials.json, `.env`, `.lobu/data/encryption.key`.
 */
import {randomBytes} from 'node:crypto'
import {readdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createSandbox, freePort, runLobu, spawnLobu, waitForHealth, type RunResult, type Sandbox, type Spawned} from '../e2e/helpers.js'
import {startFakeProvider, type FakeProvider} from '../support/fake-provider.js'

const OPENAI_KEY = `sk-stress-openai-${randomBytes(16).toString('hex')}`
const ANTHROPIC_KEY = `sk-ant-stress-${randomBytes(16).toString('hex')}`

/** Every file below `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, {withFileTypes: true})) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await filesUnder(full)))
    else if (entry.isFile()) out.push(full)
  }
  return out
}

describe('secrets scan over a full CLI scenario', () => {
  let fake: FakeProvider
  let sandbox: Sandbox
  let run: Spawned | undefined

  beforeAll(async () => {
    fake = await startFakeProvider()
    fake.reply('scan reply')
    sandbox = await createSandbox()
  })
  afterAll(async () => {
    if (run && run.child.exitCode === null) {
      run.child.kill('SIGTERM')
      await run.exited
    }
    await fake?.close()
    await sandbox?.cleanup()
  })

  it('no secret in any stdout, stderr, .lobu file or gateway response', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const env = {OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: fake.urls.openai}
    // Each output, named, to scan at the end.
    const outputs: {name: string; text: string}[] = []
    const lobu = async (args: string[], opts: {cwd?: string; input?: string} = {}): Promise<RunResult> => {
      const r = await runLobu(args, {sandbox, env, cwd: opts.cwd ?? project, input: opts.input, timeout: 90_000})
      outputs.push({name: `lobu ${args.join(' ')} (stdout)`, text: r.stdout}, {name: `lobu ${args.join(' ')} (stderr)`, text: r.stderr})
      expect(r.exitCode, `lobu ${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r
    }

    const project = path.join(sandbox.work, 'demo')
    await lobu(['init', 'demo', '--yes', '--port', String(port)], {cwd: sandbox.work})
    await writeFile(path.join(project, '.env'), `ANTHROPIC_API_KEY=${ANTHROPIC_KEY}\n`)

    run = await spawnLobu(['run', '--port', String(port), '--log-level', 'debug'], {cwd: project, sandbox, env})
    let runStdout = ''
    run.child.stdout?.on('data', (d: Buffer) => (runStdout += d.toString()))
    await waitForHealth(url, run)

    await lobu(['whoami', '-c', 'local'])
    await lobu(['whoami', '-c', 'local', '--json'])
    await lobu(['apply', '-c', 'local', '--dry-run'])
    await lobu(['apply', '-c', 'local', '--dry-run', '--json'])
    await lobu(['apply', '-c', 'local', '--yes'])
    await lobu(['apply', '-c', 'local', '--yes', '--json'])
    const created = await runLobu(['token', 'create', '-c', 'local', '--name', 'scan', '--scope', 'chat', '--json'], {sandbox, env, cwd: project})
    expect(created.exitCode, created.stderr).toBe(0)
    const minted = created.json<{token: string}>().token
    expect(minted).toMatch(/^lobu_pat_/)
    outputs.push({name: 'lobu token create --json (stderr)', text: created.stderr})
    await lobu(['token', 'list', '-c', 'local'])
    await lobu(['token', 'list', '-c', 'local', '--json'])
    await lobu(['context', 'list'])
    await lobu(['context', 'list', '--json'])
    const chat = await lobu(['chat', '-c', 'local', 'hello'])
    expect(chat.stdout).toContain('scan reply')
    await lobu(['chat', '-c', 'local', '-C', '--json', 'again'])
    await lobu(['validate'])
    // doctor's exit code says what it found (a check may warn here); only its output matters.
    const doctor = await runLobu(['doctor', '--json'], {sandbox, env, cwd: project, timeout: 90_000})
    outputs.push({name: 'lobu doctor --json (stdout)', text: doctor.stdout}, {name: 'lobu doctor --json (stderr)', text: doctor.stderr})

    // The gateway's own responses, read with the stored CLI token.
    const credentials = await readFile(path.join(sandbox.configDir, 'credentials.json'), 'utf8')
    const cliTokens = [...credentials.matchAll(/lobu_pat_[A-Za-z0-9_-]+/g)].map((m) => m[0])
    expect(cliTokens.length).toBeGreaterThan(0)
    for (const route of ['/health', '/api/v1/whoami', '/api/v1/agents', '/api/v1/agents/demo', '/api/v1/tokens', '/api/v1/oauth/connections', '/v1/models', '/api/v1/nope']) {
      const res = await fetch(url + route, {headers: {authorization: `Bearer ${cliTokens[0]}`}})
      outputs.push({name: `GET ${route} (${res.status})`, text: await res.text()})
    }
    const bad = await fetch(`${url}/api/v1/whoami`, {headers: {authorization: `Bearer ${minted}x`}})
    outputs.push({name: 'GET /api/v1/whoami with a wrong token', text: await bad.text()})

    run.child.kill('SIGTERM')
    expect(await run.exited).toBe(0)
    outputs.push({name: 'lobu run (stderr)', text: run.stderr()}, {name: 'lobu run (stdout)', text: runStdout})

    const installKey = await readFile(path.join(project, '.lobu', 'data', 'encryption.key'))
    const secrets: [string, string][] = [
      ['OPENAI_API_KEY', OPENAI_KEY],
      ['ANTHROPIC_API_KEY', ANTHROPIC_KEY],
      ['the minted token', minted],
      ...cliTokens.map((t, i): [string, string] => [`stored CLI token ${i}`, t]),
      ['the install key (base64)', installKey.toString('base64')],
      ['the install key (hex)', installKey.toString('hex')],
      ['the install key (file text)', installKey.toString('utf8').trim()],
    ]
    // Every file the gateway wrote, the database included (bytes, not text).
    for (const file of await filesUnder(path.join(project, '.lobu'))) {
      if (path.basename(file) === 'encryption.key') continue
      outputs.push({name: path.relative(project, file), text: (await readFile(file)).toString('latin1')})
    }

    const leaks: string[] = []
    for (const {name, text} of outputs) {
      for (const [what, value] of secrets) {
        if (value.length >= 16 && text.includes(value)) leaks.push(`${what} in ${name}`)
      }
    }
    expect(outputs.length).toBeGreaterThan(40)
    expect(leaks).toEqual([])
  })
})

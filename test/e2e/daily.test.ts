/**
 * Daily use end to end (the built CLI, one isolated HOME): two projects running at once on two
 * ports each reach their own gateway with chat, apply and whoami; `local` is never rewritten
 * globally; a command in one project refuses the other project's gateway; a second account
 * logged in on the same origin leaves the local admin account alone; and the CLI conventions
 * (unknown commands, `help COMMAND`, extra arguments, revoking the token in use, a missing agent,
 * NO_MODEL_CONFIGURED for a declared provider without its key, keys from .env in the banner, a
 * locked data dir reported before the port).
 */
import {existsSync} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startFakeProvider, type FakeProvider} from '../support/fake-provider.js'
import {type Sandbox, type Spawned, createSandbox, freePort, runLobu, spawnLobu, waitForHealth, waitForStderr} from './helpers.js'

let sandbox: Sandbox
let fake: FakeProvider
const running: Spawned[] = []
let env: Record<string, string>

interface Project {
  dir: string
  port: number
  url: string
  run: Spawned
  id: string
}
const projects: Record<'alpha' | 'beta', Project> = {} as never

async function initProject(name: 'alpha' | 'beta', fallbackPort: number): Promise<string> {
  const r = await runLobu(['init', name, '--yes', '--agent', name, '--port', String(fallbackPort)], {cwd: sandbox.work, sandbox, env})
  expect(r.exitCode, r.stderr).toBe(0)
  return path.join(sandbox.work, name)
}

async function startRun(dir: string, port: number, extraEnv: Record<string, string | undefined> = env): Promise<Spawned> {
  // up for the whole file, which runs for minutes on a loaded machine
  const spawned = await spawnLobu(['run', '--port', String(port)], {cwd: dir, sandbox, env: extraEnv, timeout: 900_000})
  running.push(spawned)
  await waitForStderr(spawned, /Try: lobu chat/)
  return spawned
}

beforeAll(async () => {
  fake = await startFakeProvider()
  sandbox = await createSandbox()
  env = {OPENAI_API_KEY: 'sk-daily', OPENAI_BASE_URL: fake.urls.openai}
  // gateway.port of each lobu.toml is a port nothing listens on: `lobu run --port` elsewhere must
  // still be found through .lobu/gateway.json.
  for (const name of ['alpha', 'beta'] as const) {
    const dir = await initProject(name, await freePort())
    const port = await freePort()
    const run = await startRun(dir, port)
    const url = `http://127.0.0.1:${port}`
    const health = await waitForHealth(url, run)
    projects[name] = {dir, port, url, run, id: health.project!}
  }
}, 180_000)

afterAll(async () => {
  for (const s of running) s.child.kill('SIGKILL')
  await Promise.all(running.map((s) => s.exited))
  await fake?.close()
  await sandbox?.cleanup()
})

describe('two projects on two ports in one HOME', () => {
  it('chat, apply and whoami in each project reach that project’s own gateway; no global context is written', async () => {
    expect(projects.alpha.id).not.toBe(projects.beta.id)
    for (const name of ['alpha', 'beta'] as const) {
      const p = projects[name]
      const gatewayFile = JSON.parse(await readFile(path.join(p.dir, '.lobu', 'gateway.json'), 'utf8'))
      expect(gatewayFile).toMatchObject({url: p.url, pid: p.run.child.pid, projectId: p.id})

      const who = await runLobu(['whoami', '--json'], {cwd: p.dir, sandbox, env})
      expect(who.exitCode, who.stderr).toBe(0)
      expect(who.json()).toMatchObject({context: {name: 'local', url: p.url}, org: {slug: 'local'}})

      const chat = await runLobu(['chat', '--json', `hello ${name}`], {cwd: p.dir, sandbox, env})
      expect(chat.exitCode, chat.stderr).toBe(0)
      expect(chat.stderr).not.toMatch(/starting an embedded one/i)
      const events = chat.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as {event: string; data: Record<string, unknown>})
      expect(events.at(-1)!.event).toBe('done')

      const apply = await runLobu(['apply', '--yes'], {cwd: p.dir, sandbox, env})
      expect(apply.exitCode, apply.stderr).toBe(0)
      expect(apply.stdout.split('\n')[0]).toBe(`Target: local (${p.url}, project ${p.id})`)
      expect(apply.stdout).toContain(`= unchanged agent ${name}`)
      const applied = await runLobu(['apply', '--yes', '--json'], {cwd: p.dir, sandbox, env})
      expect(applied.json()).toMatchObject({target: {context: 'local', url: p.url, project: p.id}})
    }
    // `lobu run` never rewrote a global context.
    expect(existsSync(path.join(sandbox.configDir, 'config.json'))).toBe(false)
    // Outside any project, local is 127.0.0.1:8787.
    const current = await runLobu(['context', 'current', '--json'], {cwd: sandbox.work, sandbox})
    expect(current.json()).toMatchObject({name: 'local', url: 'http://127.0.0.1:8787'})
  })

  it('apply into another project’s gateway is refused with exit 2 naming both; --force overrides', async () => {
    const added = await runLobu(['context', 'add', 'alphagw', '--url', projects.alpha.url], {sandbox})
    expect(added.exitCode, added.stderr).toBe(0)
    const r = await runLobu(['apply', '-c', 'alphagw', '--yes'], {cwd: projects.beta.dir, sandbox, env})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain(`serves project "${projects.alpha.id}", not "${projects.beta.id}"`)
    expect(r.stderr).toContain('--force')
    expect(r.stdout).toBe('')
    const dry = await runLobu(['apply', '-c', 'alphagw', '--dry-run', '--force'], {cwd: projects.beta.dir, sandbox, env})
    expect(dry.exitCode, dry.stderr).toBe(0)
    expect(dry.stdout).toContain(`Target: alphagw (${projects.alpha.url}, project ${projects.beta.id})`)
    expect(dry.stdout).toContain('+ create agent beta')
  })

  it('a gateway.json whose process is gone is ignored: local falls back to gateway.port', async () => {
    const {dir} = projects.beta
    const file = path.join(dir, '.lobu', 'gateway.json')
    const saved = await readFile(file, 'utf8')
    const dead = {...JSON.parse(saved), pid: 2 ** 22 + 12345}
    await writeFile(file, JSON.stringify(dead))
    try {
      const toml = await readFile(path.join(dir, 'lobu.toml'), 'utf8')
      const fallback = /port = (\d+)/.exec(toml)![1]
      const current = await runLobu(['context', 'current', '--json'], {cwd: dir, sandbox})
      expect(current.json()).toMatchObject({name: 'local', url: `http://127.0.0.1:${fallback}`})
      const who = await runLobu(['whoami'], {cwd: dir, sandbox})
      expect(who.exitCode).not.toBe(0)
      expect(who.stderr).toContain(`127.0.0.1:${fallback}`)
    } finally {
      await writeFile(file, saved)
    }
  })

  it('a chat in a project whose port is served by another project refuses (exit 2) and sends nothing', async () => {
    // beta's gateway.json hidden, and beta's gateway.port pointing at alpha's gateway.
    const {dir} = projects.beta
    const file = path.join(dir, '.lobu', 'gateway.json')
    const saved = await readFile(file, 'utf8')
    const tomlFile = path.join(dir, 'lobu.toml')
    const toml = await readFile(tomlFile, 'utf8')
    await writeFile(file, '{}')
    await writeFile(tomlFile, toml.replace(/port = \d+/, `port = ${projects.alpha.port}`))
    try {
      const before = fake.requests.length
      const chat = await runLobu(['chat', 'hi'], {cwd: dir, sandbox, env})
      expect(chat.exitCode).toBe(2)
      expect(chat.stderr).toContain(`serves project "${projects.alpha.id}", not "${projects.beta.id}"`)
      expect(fake.requests.length).toBe(before)
      const who = await runLobu(['whoami'], {cwd: dir, sandbox, env})
      expect(who.exitCode).toBe(2)
    } finally {
      await writeFile(file, saved)
      await writeFile(tomlFile, toml)
    }
  })
})

describe('several accounts per gateway', () => {
  it('a login of a second account on the same origin keeps the local admin account; auth status and switch', async () => {
    const {dir, url} = projects.alpha
    const org = await runLobu(['org', 'create', 'acme', '--owner-email', 'ada@acme.test', '--owner-name', 'Ada', '--json'], {cwd: dir, sandbox, env})
    expect(org.exitCode, org.stderr).toBe(0)
    const created = org.json<{token: string | {token: string}}>()
    const token = typeof created.token === 'string' ? created.token : created.token.token
    expect((await runLobu(['context', 'add', 'acme', '--url', url], {sandbox})).exitCode).toBe(0)
    const login = await runLobu(['oauth', 'login', '--with-token', '-c', 'acme'], {sandbox, input: token + '\n'})
    expect(login.exitCode, login.stderr).toBe(0)

    const local = await runLobu(['whoami', '-c', 'local', '--json'], {cwd: dir, sandbox})
    expect(local.json()).toMatchObject({org: {slug: 'local'}})
    const acme = await runLobu(['whoami', '-c', 'acme', '--json'], {cwd: dir, sandbox})
    expect(acme.json()).toMatchObject({org: {slug: 'acme'}, user: {name: 'Ada'}})
    // chat in the project still works with the local admin account
    const chat = await runLobu(['chat', 'still me?'], {cwd: dir, sandbox, env})
    expect(chat.exitCode, chat.stderr).toBe(0)

    const creds = JSON.parse(await readFile(path.join(sandbox.configDir, 'credentials.json'), 'utf8'))
    expect(creds.version).toBe(2)
    expect(creds.origins[url].accounts.map((a: {kind: string; org: string}) => `${a.kind}:${a.org}`).sort()).toEqual(['local-admin:local', 'login:acme'])

    const status = await runLobu(['auth', 'status', '--json'], {cwd: dir, sandbox})
    expect(status.exitCode, status.stderr).toBe(0)
    const entries = status.json<Array<{context: string; url: string; account: {name: string; kind: string} | null; reachable: boolean; others: string[]}>>()
    expect(entries.find((e) => e.context === 'local')).toMatchObject({url, account: {kind: 'local-admin'}, reachable: true, others: ['Ada@acme']})
    expect(entries.find((e) => e.context === 'acme')).toMatchObject({url, account: {name: 'Ada@acme', kind: 'login'}, reachable: true})
    const human = await runLobu(['auth', 'status'], {cwd: dir, sandbox})
    expect(human.stdout).toMatch(/\* local\s+http/)
    expect(human.stdout).toMatch(/account: +\S+@local \(local admin\)/)
    // a context on the same origin that never chose an account keeps the local admin one
    expect(entries.find((e) => e.context === 'alphagw')).toMatchObject({account: {kind: 'local-admin'}})

    const sw = await runLobu(['auth', 'switch', '-c', 'local', 'Ada@acme'], {cwd: dir, sandbox})
    expect(sw.exitCode, sw.stderr).toBe(0)
    expect((await runLobu(['whoami', '-c', 'local', '--json'], {cwd: dir, sandbox})).json()).toMatchObject({org: {slug: 'acme'}})
    expect((await runLobu(['auth', 'switch', '-c', 'local'], {cwd: dir, sandbox})).exitCode).toBe(0)
    expect((await runLobu(['whoami', '-c', 'local', '--json'], {cwd: dir, sandbox})).json()).toMatchObject({org: {slug: 'local'}})
    const unknown = await runLobu(['auth', 'switch', '-c', 'local', 'bob@nowhere'], {cwd: dir, sandbox})
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toContain('Ada@acme')
  })

  it('revoking the token in use needs --yes without a terminal', async () => {
    const {dir} = projects.alpha
    const who = (await runLobu(['whoami', '-c', 'acme', '--json'], {cwd: dir, sandbox})).json<{token: {id: string}}>()
    const r = await runLobu(['token', 'revoke', who.token.id, '-c', 'acme'], {cwd: dir, sandbox})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('is the token this CLI uses for context "acme"')
    expect(r.stderr).toContain('--yes')
    expect((await runLobu(['whoami', '-c', 'acme'], {cwd: dir, sandbox})).exitCode).toBe(0)
    const yes = await runLobu(['token', 'revoke', who.token.id, '-c', 'acme', '--yes'], {cwd: dir, sandbox})
    expect(yes.exitCode, yes.stderr).toBe(0)
    expect(yes.stderr).toContain('lobu oauth login -c acme')
    // the local admin account is untouched
    expect((await runLobu(['whoami', '-c', 'local'], {cwd: dir, sandbox})).exitCode).toBe(0)
  })
})

describe('CLI conventions', () => {
  it('an unknown command exits 2 with a did-you-mean, spaces as separators', async () => {
    const r = await runLobu(['chta', 'hi'], {sandbox})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('"chta hi" is not a lobu command')
    expect(r.stderr).toContain('Did you mean `lobu chat`?')
    expect(r.stderr).not.toContain('chta:hi')
    const topic = await runLobu(['contxt', 'list'], {sandbox})
    expect(topic.exitCode).toBe(2)
    expect(topic.stderr).toContain('Did you mean `lobu context list`?')
  })

  it('lobu help COMMAND is lobu COMMAND --help; extra words after a command are a usage error', async () => {
    const help = await runLobu(['help', 'chat'], {sandbox})
    expect(help.exitCode, help.stderr).toBe(0)
    expect(help.stdout).toContain('USAGE')
    expect(help.stdout).toContain('$ lobu chat')
    const topic = await runLobu(['help', 'token', 'create'], {sandbox})
    expect(topic.exitCode, topic.stderr).toBe(0)
    expect(topic.stdout).toContain('$ lobu token create')
    const root = await runLobu(['--help'], {sandbox})
    expect(root.stdout).toMatch(/^ {2}help +Display help for lobu\.$/m)
    expect(root.stdout).toMatch(/^ {2}auth +See and switch the accounts/m)
    expect(root.stdout).not.toContain('<%')
    const extra = await runLobu(['whoami', 'extra'], {sandbox})
    expect(extra.exitCode).toBe(2)
    expect(extra.stderr).toContain('unexpected argument "extra"')
    expect(extra.stderr).toContain('lobu whoami --help')
    expect(extra.stderr).not.toContain('whoami:extra')
  })

  it('a missing agent exits 1 with where agents come from', async () => {
    const r = await runLobu(['chat', '-a', 'nope', 'hi'], {cwd: projects.alpha.dir, sandbox, env})
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain('agent "nope" does not exist')
    expect(r.stderr).toContain('lobu apply')
    expect(r.stderr).not.toContain('/api/v1/')
  })

  it('a declared provider whose key variable is unset: NO_MODEL_CONFIGURED says so; the banner reads keys from .env; a lock clash comes before the port', async () => {
    const dir = path.join(sandbox.work, 'gamma')
    const init = await runLobu(['init', 'gamma', '--yes', '--agent', 'gamma'], {cwd: sandbox.work, sandbox, env: {OPENAI_API_KEY: undefined}})
    expect(init.exitCode, init.stderr).toBe(0)
    const port = await freePort()
    const run = await startRun(dir, port, {OPENAI_BASE_URL: fake.urls.openai})
    const chat = await runLobu(['chat', 'hi'], {cwd: dir, sandbox, env: {OPENAI_BASE_URL: fake.urls.openai}})
    expect(chat.exitCode).toBe(4)
    expect(chat.stderr).toContain('declared in lobu.toml but have no key')
    expect(chat.stderr).toContain('OPENAI_API_KEY')
    expect(chat.stderr).not.toContain('[[agents.gamma.providers]]')

    // the same port again: the lock holder is named, not "port in use"
    const clash = await runLobu(['run', '--port', String(port)], {cwd: dir, sandbox})
    expect(clash.exitCode).toBe(1)
    expect(clash.stderr).toContain(`pid ${run.child.pid}`)
    expect(clash.stderr).not.toContain('is in use —')

    run.child.kill('SIGINT')
    expect(await run.exited).toBe(0)
    expect(existsSync(path.join(dir, '.lobu', 'gateway.json'))).toBe(false)

    await writeFile(path.join(dir, '.env'), 'OPENAI_API_KEY=sk-from-dotenv\n', {mode: 0o600})
    const again = await startRun(dir, await freePort(), {OPENAI_BASE_URL: fake.urls.openai})
    expect(again.stderr()).toMatch(/gamma\s+openai\/gpt-4o-mini \(\$OPENAI_API_KEY from \.env\)/)
    expect(again.stderr()).toContain('OPENAI_API_KEY is only in .env')
    again.child.kill('SIGINT')
    expect(await again.exited).toBe(0)
  })
})

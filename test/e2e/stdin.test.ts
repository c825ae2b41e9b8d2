/**
 * Every command that reads stdin reads it when a Node program spawns lobu with `input` (the child
 * then gets a socket, not a pipe or a file): `child_process.spawnSync(…, {input})` and execa's
 * `input`. The gateway (`lobu run`) and the fake provider run in their own processes, since
 * spawnSync blocks this one.
 */
import {spawnSync} from 'node:child_process'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, REPO_ROOT, type Sandbox, type Spawned, createSandbox, freePort, runLobu, spawnLobu, waitForHealth} from './helpers.js'

let sandbox: Sandbox
let project: string
let port: number
let run: Spawned
let fake: ReturnType<typeof execa>
let env: Record<string, string>

beforeAll(async () => {
  sandbox = await createSandbox()
  fake = execa(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test', 'support', 'fake-provider.ts'), '--port', '0'], {cwd: REPO_ROOT, reject: false, buffer: false, stdin: 'ignore'})
  const urls = await new Promise<{openai: string}>((resolve, reject) => {
    let out = ''
    fake.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!))
    })
    void fake.then(() => reject(new Error('the fake provider exited')))
  })
  env = {OPENAI_API_KEY: 'sk-stdin-test', OPENAI_BASE_URL: urls.openai}
  port = await freePort()
  const init = await runLobu(['init', 'demo', '--yes', '--port', String(port)], {sandbox, env})
  expect(init.exitCode, init.stderr).toBe(0)
  project = path.join(sandbox.work, 'demo')
  run = await spawnLobu(['run'], {cwd: project, sandbox, env})
  await waitForHealth(`http://127.0.0.1:${port}`, run)
}, 120_000)

afterAll(async () => {
  run?.child.kill('SIGINT')
  await run?.exited
  fake?.kill('SIGTERM')
  await fake
  await sandbox?.cleanup()
})

type Spawner = (args: string[], input: string) => Promise<{exitCode: number; stdout: string; stderr: string}>

const childEnv = () => ({PATH: process.env.PATH ?? '', ...sandbox.env, ...env})

const spawners: Array<[string, Spawner]> = [
  [
    'child_process.spawnSync with input',
    async (args, input) => {
      const r = spawnSync(process.execPath, [BIN, ...args], {cwd: project, env: childEnv(), input, encoding: 'utf8', timeout: 60_000})
      return {exitCode: r.status ?? 1, stdout: r.stdout, stderr: r.stderr}
    },
  ],
  [
    'execa with input',
    async (args, input) => {
      const r = await execa(process.execPath, [BIN, ...args], {cwd: project, env: childEnv(), extendEnv: false, input, reject: false, stripFinalNewline: false, timeout: 60_000})
      return {exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr)}
    },
  ],
]

/** Whether the device-login page accepts this email and password (the owner's password was stored). */
async function passwordWorks(email: string, password: string): Promise<boolean> {
  const base = `http://127.0.0.1:${port}`
  const code = (await (await fetch(`${base}/oauth/device/code`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({client_id: 'lobu-cli'})})).json()) as {user_code: string}
  const res = await fetch(`${base}/device`, {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({user_code: code.user_code, email, password, action: 'approve'}).toString(),
  })
  return res.status === 200 && (await res.text()).includes('Device approved')
}

describe.each(spawners)('stdin from %s', (how, spawn) => {
  const tag = how.startsWith('child') ? 'sync' : 'execa'

  it('lobu org create reads the owner password', async () => {
    const email = `owner-${tag}@acme.test`
    const r = await spawn(['org', 'create', `acme-${tag}`, '--owner-email', email, '-c', 'local', '--json'], `pw-${tag}-secret\n`)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(await passwordWorks(email, `pw-${tag}-secret`)).toBe(true)
  })

  it('lobu chat reads the prompt', async () => {
    const r = await spawn(['chat', '-c', 'local', '--no-boot'], `a question over ${tag}\n`)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toBe(`echo: a question over ${tag}\n`)
  })

  it('lobu oauth connect --with-key reads the key', async () => {
    const r = await spawn(['oauth', 'connect', 'openai', '--with-key', '-c', 'local', '--json'], `sk-own-${tag}-key\n`)
    expect(r.exitCode, r.stderr).toBe(0)
    const chat = await spawn(['chat', '-c', 'local', '--no-boot', 'with my key'], '')
    expect(chat.exitCode, chat.stderr).toBe(0)
    const disconnect = await spawn(['oauth', 'disconnect', 'openai', '-c', 'local'], '')
    expect(disconnect.exitCode, disconnect.stderr).toBe(0)
  })

  it('lobu oauth login --with-token reads the token', async () => {
    const created = await runLobu(['token', 'create', '-c', 'local', '--json', '--name', `login-${tag}`], {cwd: project, sandbox, env})
    expect(created.exitCode, created.stderr).toBe(0)
    const token = created.json<{token: string}>().token
    const r = await spawn(['oauth', 'login', '--with-token', '--url', `http://localhost:${port}`, '-c', `other-${tag}`], `${token}\n`)
    expect(r.exitCode, r.stderr).toBe(0)
    const who = await runLobu(['whoami', '-c', `other-${tag}`, '--json'], {cwd: project, sandbox, env})
    expect(who.exitCode, who.stderr).toBe(0)
  })
})

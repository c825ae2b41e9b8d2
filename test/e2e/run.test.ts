/**
 * `lobu run` end to end: the built CLI in a fresh `lobu init` project, on a random port, with an
 * isolated HOME / config dir. Covers the list: banner, health, whoami and token create
 * through the stored token, the data-dir lock (S12), SIGINT (exit 0, lock freed), kill -9 then
 * restart keeps tokens and agents (S13), a busy port, an invalid lobu.toml, a malformed
 * ENCRYPTION_KEY, and --watch.
 */
import {existsSync} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Sandbox, type Spawned, createSandbox, freePort, runLobu, spawnLobu, waitForHealth, waitForStderr} from './helpers.js'

let sandbox: Sandbox
let project: string
const running: Spawned[] = []

beforeAll(async () => {
  sandbox = await createSandbox()
  const r = await runLobu(['init', 'demo', '--yes'], {cwd: sandbox.work, sandbox})
  expect(r.exitCode, r.stderr).toBe(0)
  project = path.join(sandbox.work, 'demo')
})

afterAll(async () => {
  for (const s of running) s.child.kill('SIGKILL')
  await Promise.all(running.map((s) => s.exited))
  await sandbox.cleanup()
})

async function startRun(args: string[] = [], env: Record<string, string | undefined> = {}): Promise<{spawned: Spawned; url: string; port: number}> {
  const port = await freePort()
  const spawned = await spawnLobu(['run', '--port', String(port), ...args], {cwd: project, sandbox, env})
  running.push(spawned)
  const url = `http://127.0.0.1:${port}`
  await waitForStderr(spawned, /Try: lobu chat/)
  return {spawned, url, port}
}

async function stop(spawned: Spawned): Promise<number> {
  spawned.child.kill('SIGINT')
  return spawned.exited
}

describe('lobu run', () => {
  const lock = () => path.join(project, '.lobu', 'data', 'gateway.lock')

  it('serves, prints its banner, and the stored token works for whoami and token create; SIGINT exits 0 and frees the lock', async () => {
    const {spawned, url, port} = await startRun()
    const health = await waitForHealth(url)
    expect(health.ok).toBe(true)
    expect(health.project).toMatch(/^demo-[0-9a-f]{6}$/)
    expect(spawned.stderr()).toContain(`listening on ${url}`)
    expect(spawned.stderr()).toMatch(/demo\s+openai\/gpt-4o-mini \(\$OPENAI_API_KEY missing\)/)
    expect(existsSync(lock())).toBe(true)

    const who = await runLobu(['whoami', '-c', 'local', '--json'], {cwd: project, sandbox})
    expect(who.exitCode, who.stderr).toBe(0)
    expect(who.json<{org: {slug: string}}>().org.slug).toBe('local')
    // `local` in this project follows .lobu/gateway.json; no global context is written.
    expect(existsSync(path.join(sandbox.configDir, 'config.json'))).toBe(false)
    const recorded = JSON.parse(await readFile(path.join(project, '.lobu', 'gateway.json'), 'utf8'))
    expect(recorded).toMatchObject({url: `http://127.0.0.1:${port}`, pid: spawned.child.pid, projectId: health.project})

    const created = await runLobu(['token', 'create', '-c', 'local', '--scope', 'chat', '--json'], {cwd: project, sandbox})
    expect(created.exitCode, created.stderr).toBe(0)
    const token = created.json<{token: string}>().token
    const agents = await fetch(`${url}/api/v1/agents`, {headers: {authorization: `Bearer ${token}`}})
    expect(agents.status).toBe(403) // chat-only token: no agents:read

    expect(await stop(spawned)).toBe(0)
    expect(existsSync(lock())).toBe(false)
    expect(existsSync(path.join(project, '.lobu', 'gateway.json'))).toBe(false)
  })

  it('a second lobu run on the same data dir exits 1 naming the first pid; the first keeps serving', async () => {
    const first = await startRun()
    const port2 = await freePort()
    const second = await runLobu(['run', '--port', String(port2)], {cwd: project, sandbox})
    expect(second.exitCode).toBe(1)
    expect(second.stderr).toContain(String(first.spawned.child.pid))
    expect((await waitForHealth(first.url)).ok).toBe(true)
    const who = await runLobu(['whoami', '-c', 'local'], {cwd: project, sandbox})
    expect(who.exitCode, who.stderr).toBe(0)
    expect(await stop(first.spawned)).toBe(0)
  })

  it('kill -9 then restart keeps every token and agent (S13); the stale lock is taken over', async () => {
    const first = await startRun()
    const created = await runLobu(['token', 'create', '-c', 'local', '--json'], {cwd: project, sandbox})
    expect(created.exitCode, created.stderr).toBe(0)
    const token = created.json<{token: string}>().token
    first.spawned.child.kill('SIGKILL')
    await first.spawned.exited
    expect(existsSync(lock())).toBe(true) // left behind by the dead process

    const second = await startRun()
    const res = await fetch(`${second.url}/api/v1/agents`, {headers: {authorization: `Bearer ${token}`}})
    expect(res.status).toBe(200)
    const list = (await res.json()) as Array<{id: string; managedBy: string | null}>
    expect(list.map((a) => a.id).sort()).toEqual(['default', 'demo'])
    expect(second.spawned.stderr()).toMatch(/demo\s+openai\/gpt-4o-mini .*\(unchanged\)/)
    expect(await stop(second.spawned)).toBe(0)
  })

  it('a busy port exits 1 with a hint and writes no lock', async () => {
    const {createServer} = await import('node:net')
    const blocker = createServer()
    const port = await freePort()
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve))
    try {
      const r = await runLobu(['run', '--port', String(port)], {cwd: project, sandbox})
      expect(r.exitCode).toBe(1)
      expect(r.stderr).toContain(`port ${port} is in use`)
      expect(r.stderr).toContain('--port')
      expect(existsSync(lock())).toBe(false)
    } finally {
      blocker.close()
    }
  })

  it('an invalid lobu.toml exits 2 before anything is written', async () => {
    const dir = path.join(sandbox.work, 'broken')
    expect((await runLobu(['init', 'broken', '--yes'], {cwd: sandbox.work, sandbox})).exitCode).toBe(0)
    const file = path.join(dir, 'lobu.toml')
    await writeFile(file, (await readFile(file, 'utf8')).replace('model = ', 'modle = '))
    const r = await runLobu(['run', '--port', String(await freePort())], {cwd: dir, sandbox})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/lobu\.toml:\d+:\d+ +agents\.broken\.providers\[0\]\.modle/)
    expect(existsSync(path.join(dir, '.lobu'))).toBe(false)
  })

  it('a malformed ENCRYPTION_KEY stops the boot with exit 2', async () => {
    const r = await runLobu(['run', '--port', String(await freePort())], {cwd: project, sandbox, env: {ENCRYPTION_KEY: 'not-a-key'}})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/ENCRYPTION_KEY/)
    expect(existsSync(lock())).toBe(false)
  })

  it('--watch re-applies an edit, and an invalid edit keeps the last good state', async () => {
    const {spawned, url} = await startRun(['--watch'])
    await waitForStderr(spawned, /Watching lobu\.toml/)
    const token = JSON.parse(await readFile(path.join(sandbox.configDir, 'credentials.json'), 'utf8')).origins[url].accounts[0].token as string
    const file = path.join(project, 'lobu.toml')
    const original = await readFile(file, 'utf8')
    try {
      await writeFile(file, original.replace(/^description = .*$/m, 'description = "edited by the watch test"'))
      await waitForStderr(spawned, /watch: applied agent demo: updated/)
      const agent = (await (await fetch(`${url}/api/v1/agents/demo`, {headers: {authorization: `Bearer ${token}`}})).json()) as {description: string}
      expect(agent.description).toBe('edited by the watch test')

      await writeFile(file, original.replace('[project]', '[project]\nbogus = 1'))
      await waitForStderr(spawned, /keeping the last good state/)
      expect((await waitForHealth(url)).ok).toBe(true)
    } finally {
      await writeFile(file, original)
    }
    expect(await stop(spawned)).toBe(0)
  })
})

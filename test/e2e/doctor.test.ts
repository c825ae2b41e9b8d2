/**
 * The built CLI: `lobu doctor` in a fresh project (warnings only, exit 0), its --json shape, an
 * insecure credentials.json (fail, chmod 600 fix, exit 1), and shell completion being wired in.
 */
import {chmod, mkdir, stat, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Sandbox, createSandbox, freePort, runLobu} from './helpers.js'

interface Report {
  ok: boolean
  checks: Array<{id: string; status: string; message: string; fix?: string}>
}

let sandbox: Sandbox
let project: string

beforeAll(async () => {
  sandbox = await createSandbox()
  // A port of its own, so a gateway another test runs on 8787 cannot change the outcome.
  const init = await runLobu(['init', 'demo', '--yes', '--port', String(await freePort())], {sandbox})
  expect(init.exitCode, init.stderr).toBe(0)
  project = path.join(sandbox.work, 'demo')
})

afterAll(async () => {
  await sandbox.cleanup()
})

describe('lobu doctor (built CLI)', () => {
  it('passes with warnings in a fresh project without a key, naming OPENAI_API_KEY', async () => {
    const r = await runLobu(['doctor'], {cwd: project, sandbox})
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^ok {3}Node\.js /m)
    expect(r.stdout).toMatch(/^ok {3}lobu\.toml: valid, 1 agent \(demo\)$/m)
    expect(r.stdout).toMatch(/^warn \$OPENAI_API_KEY is not set \(lobu\.toml:\d+:\d+ agents\.demo\.providers\[0\]\.key\)\n {5}fix: .*OPENAI_API_KEY/m)
    expect(r.stdout).not.toMatch(/^fail /m)
    expect(r.stdout).toMatch(/^\d+ warnings?\.$/m)
    // Read only: no config dir, no data dir appeared.
    await expect(stat(sandbox.configDir).then((s) => s.isDirectory())).resolves.toBe(true) // created empty by the sandbox
    await expect(stat(path.join(sandbox.configDir, 'credentials.json'))).rejects.toThrow()
    await expect(stat(path.join(project, '.lobu'))).rejects.toThrow()
  })

  it('--json returns {ok, checks: [{id, status, message, fix?}]}', async () => {
    const r = await runLobu(['doctor', '--json'], {cwd: project, sandbox})
    expect(r.exitCode).toBe(0)
    const report = r.json<Report>()
    expect(report.ok).toBe(true)
    expect(report.checks.length).toBeGreaterThan(5)
    for (const c of report.checks) {
      expect(Object.keys(c).every((k) => ['id', 'status', 'message', 'fix'].includes(k))).toBe(true)
      expect(['ok', 'warn', 'fail']).toContain(c.status)
      expect(typeof c.id).toBe('string')
      expect(typeof c.message).toBe('string')
      if (c.status === 'warn') expect(typeof c.fix).toBe('string')
    }
    const ids = report.checks.map((c) => c.id)
    expect(ids).toEqual(expect.arrayContaining(['node', 'config-dir', 'credentials', 'lobu-toml', 'env-refs', 'providers:demo', 'data-dir', 'port', 'gateway:local']))
    expect(report.checks.find((c) => c.id === 'env-refs')).toMatchObject({status: 'warn', message: expect.stringContaining('OPENAI_API_KEY')})
  })

  it('fails with a chmod 600 fix and exit 1 when credentials.json is readable by others', async () => {
    const own = await createSandbox()
    try {
      await mkdir(own.configDir, {recursive: true, mode: 0o700})
      const file = path.join(own.configDir, 'credentials.json')
      await writeFile(file, JSON.stringify({version: 1, tokens: {}}))
      await chmod(file, 0o644)
      const r = await runLobu(['doctor'], {cwd: own.work, sandbox: own})
      expect(r.exitCode).toBe(1)
      expect(r.stdout).toMatch(new RegExp(`^fail credentials\\.json is mode 0644.*\\n {5}fix: chmod 600 ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
      expect(r.stdout).toMatch(/^1 check failed/m)
      expect((await stat(file)).mode & 0o777).toBe(0o644) // reported, never changed

      const json = await runLobu(['doctor', '--json'], {cwd: own.work, sandbox: own})
      expect(json.exitCode).toBe(1)
      expect(json.json<Report>()).toMatchObject({ok: false, checks: expect.arrayContaining([{id: 'credentials', status: 'fail', message: expect.any(String), fix: `chmod 600 ${file}`}])})
    } finally {
      await own.cleanup()
    }
  })

  it('exits 2 for an unknown --context', async () => {
    const r = await runLobu(['doctor', '-c', 'nope'], {cwd: project, sandbox})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^Error: unknown context "nope"/m)
  })
})

describe('shell completion (built CLI)', () => {
  it('lobu autocomplete --help exits 0 and names the shells', async () => {
    const r = await runLobu(['autocomplete', '--help'], {sandbox})
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/zsh\|bash\|powershell/)
  })

  it('the root help lists doctor and autocomplete', async () => {
    const r = await runLobu(['--help'], {sandbox})
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^SETUP\n {2}doctor +\S.*\n {2}autocomplete +\S/m)
  })
})

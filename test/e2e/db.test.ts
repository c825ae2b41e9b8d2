import {existsSync} from 'node:fs'
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Sandbox, createSandbox, freePort, runLobu, spawnLobu, waitForStderr} from './helpers.js'

let sandbox: Sandbox
let project: string

beforeAll(async () => {
  sandbox = await createSandbox()
  const r = await runLobu(['init', 'demo', '--yes'], {cwd: sandbox.work, sandbox})
  expect(r.exitCode, r.stderr).toBe(0)
  project = path.join(sandbox.work, 'demo')
})
afterAll(async () => {
  await sandbox?.cleanup()
})

describe('lobu db dump', () => {
  it("is refused while lobu run holds the project's data dir, then dumps it once stopped", async () => {
    const port = await freePort()
    const spawned = await spawnLobu(['run', '--port', String(port)], {cwd: project, sandbox})
    try {
      await waitForStderr(spawned, /Try: lobu chat/)
      const busy = await runLobu(['db', 'dump'], {cwd: project, sandbox})
      expect(busy.exitCode).toBe(1)
      expect(busy.stdout).toBe('')
      expect(busy.stderr).toContain(`pid ${spawned.child.pid}`)
    } finally {
      spawned.child.kill('SIGINT')
      await spawned.exited
    }

    const r = await runLobu(['db', 'dump'], {cwd: project, sandbox})
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^-- lobu database dump of .*\.lobu\/data/)
    expect(r.stdout).toMatch(/INSERT INTO "agents" \("org_id", "agent_id", "spec"/)
    expect(r.stdout.trimEnd().endsWith('COMMIT;')).toBe(true)
    expect(r.stderr).toContain('encryption.key')

    const out = path.join(sandbox.work, 'lobu.sql')
    const f = await runLobu(['db', 'dump', '-o', out, '-q'], {cwd: project, sandbox})
    expect(f.exitCode, f.stderr).toBe(0)
    expect(f.stderr).toBe('')
    const written = await readFile(out, 'utf8')
    expect(written.split('\n').slice(1)).toEqual(r.stdout.split('\n').slice(1)) // the same but for the header's date
  }, 120_000)

  it('refuses a data dir with no database (exit 2) and writes no file', async () => {
    const out = path.join(sandbox.work, 'none.sql')
    const r = await runLobu(['db', 'dump', '--data-dir', path.join(sandbox.work, 'nothing-here'), '-o', out], {sandbox})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/no lobu database in .*nothing-here/)
    expect(existsSync(out)).toBe(false)
    expect((await readdir(sandbox.work)).filter((n) => n.includes('none.sql'))).toEqual([])
    expect(existsSync(path.join(sandbox.work, 'nothing-here'))).toBe(false)
  })
})

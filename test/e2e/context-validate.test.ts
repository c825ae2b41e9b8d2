/**
 * The built CLI on the foundation commands: `lobu validate` on a broken file (every error with
 * its file:line:col, exit 2) and the `lobu context` round trip with --json.
 */
import {mkdir, readFile, stat, writeFile} from 'node:fs/promises'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Sandbox, createSandbox, runLobu} from './helpers.js'

let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await createSandbox()
})
afterAll(async () => {
  await sandbox.cleanup()
})

describe('lobu validate (built CLI)', () => {
  it('reports every error of a broken lobu.toml as lobu.toml:LINE:COL lines and exits 2', async () => {
    const dir = path.join(sandbox.work, 'broken')
    await mkdir(path.join(dir, 'agents', 'support'), {recursive: true})
    await writeFile(
      path.join(dir, 'lobu.toml'),
      [
        '[project]',
        'id = "Bad Id"', // 2: project.id pattern
        '',
        '[agents.support]',
        'name = "Support"',
        'dir = "./agents/support"',
        '',
        '[[agents.support.providers]]',
        'id = "openai"',
        'modle = "gpt-4o"', // 10: unknown key, did you mean model
        '',
        '[agents.Support]', // 12: agent id rule
        'name = 3', // 13: expected a string
        'dir = "./nowhere"',
      ].join('\n') + '\n',
    )
    const r = await runLobu(['validate'], {cwd: dir, sandbox})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^ {2}lobu\.toml:2:6 +project\.id /m)
    expect(r.stderr).toMatch(/^ {2}lobu\.toml:10:1 +agents\.support\.providers\[0\]\.modle .*did you mean `model`/m)
    expect(r.stderr).toMatch(/^ {2}lobu\.toml:12:\d+ +agents\.Support /m)
    expect(r.stderr).toMatch(/^ {2}lobu\.toml:13:8 +agents\.Support\.name +expected a string, got an integer/m)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('a TOML syntax error names its line and column', async () => {
    const dir = path.join(sandbox.work, 'syntax')
    await mkdir(dir, {recursive: true})
    await writeFile(path.join(dir, 'lobu.toml'), '[project]\nid = "ok-123"\n[agents.x\n')
    const r = await runLobu(['validate'], {cwd: dir, sandbox})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/lobu\.toml:3:\d+/)
  })
})

describe('lobu context (built CLI)', () => {
  it('add, use, list, current and remove round trip with --json; config dir 0700', async () => {
    const add = await runLobu(['context', 'add', 'staging', '--url', 'https://lobu.example.com/', '--json'], {sandbox})
    expect(add.exitCode, add.stderr).toBe(0)
    expect(add.json<{name: string; url: string}>()).toMatchObject({name: 'staging', url: 'https://lobu.example.com'})
    // a config dir lobu creates itself is 0700
    const fresh = path.join(sandbox.root, 'fresh-config')
    expect((await runLobu(['context', 'add', 'x', '--url', 'http://127.0.0.1:9'], {sandbox, env: {LOBU_CONFIG_DIR: fresh}})).exitCode).toBe(0)
    expect((await stat(fresh)).mode & 0o777).toBe(0o700)

    expect((await runLobu(['context', 'use', 'staging'], {sandbox})).exitCode).toBe(0)
    const list = await runLobu(['context', 'list', '--json'], {sandbox})
    const contexts = list.json<Array<{name: string; url: string; current: boolean}>>()
    expect(contexts.find((c) => c.name === 'staging')).toMatchObject({current: true})
    expect(contexts.find((c) => c.name === 'local')).toMatchObject({url: 'http://127.0.0.1:8787', current: false})

    const current = await runLobu(['context', 'current'], {sandbox})
    expect(current.stdout.trim()).toContain('staging')
    // LOBU_CONTEXT beats the current context; -c beats both
    const viaEnv = await runLobu(['context', 'current', '--json'], {sandbox, env: {LOBU_CONTEXT: 'local'}})
    expect(viaEnv.json<{name: string}>().name).toBe('local')

    const unknown = await runLobu(['whoami', '-c', 'nope'], {sandbox})
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toContain('staging')

    expect((await runLobu(['context', 'remove', 'staging'], {sandbox})).exitCode).toBe(0)
    const after = await runLobu(['context', 'list', '--json'], {sandbox})
    expect(after.json<Array<{name: string}>>().map((c) => c.name)).not.toContain('staging')
    const file = JSON.parse(await readFile(path.join(sandbox.configDir, 'config.json'), 'utf8'))
    expect(file.contexts.staging).toBeUndefined()
  })

  it('a token stored for one origin is not sent to another: exit 3 (S2)', async () => {
    await runLobu(['context', 'add', 'a', '--url', 'http://127.0.0.1:1'], {sandbox})
    const r = await runLobu(['whoami', '-c', 'a'], {sandbox})
    expect(r.exitCode).toBe(3)
    expect(r.stderr).toMatch(/^Error: no token/m)
  })
})

import {existsSync} from 'node:fs'
import {mkdir, readFile, readdir, stat, writeFile} from 'node:fs/promises'
import * as path from 'node:path'

import {parse} from 'smol-toml'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {type Sandbox, createSandbox, runLobu} from './helpers.js'

const FILES = [
  'lobu.toml',
  'agents/demo/IDENTITY.md',
  'agents/demo/SOUL.md',
  'agents/demo/USER.md',
  'agents/demo/skills/README.md',
  '.env.example',
  '.gitignore',
  'README.md',
]

let sandbox: Sandbox
beforeEach(async () => {
  sandbox = await createSandbox()
})
afterEach(async () => {
  await sandbox.cleanup()
})

const run = (args: string[], opts: {cwd?: string; env?: Record<string, string | undefined>} = {}) =>
  runLobu(args, {sandbox, ...opts})

describe('lobu init', () => {
  it('init demo --yes writes every file, a valid project id, the provider and the .gitignore lines; no .env without a key', async () => {
    const r = await run(['init', 'demo', '--yes'])
    expect(r.exitCode, r.stderr).toBe(0)
    const dir = path.join(sandbox.work, 'demo')
    for (const f of FILES) expect(existsSync(path.join(dir, f)), f).toBe(true)
    expect(existsSync(path.join(dir, '.env'))).toBe(false)

    const toml = parse(await readFile(path.join(dir, 'lobu.toml'), 'utf8')) as any
    expect(toml.project.id).toMatch(/^demo-[0-9a-f]{6}$/)
    expect(toml.gateway.port).toBe(8787)
    expect(toml.agents.demo).toMatchObject({name: 'Demo', dir: './agents/demo'})
    expect(toml.agents.demo.providers).toEqual([{id: 'openai', model: 'gpt-4o-mini', key: '$OPENAI_API_KEY'}])

    const gitignore = (await readFile(path.join(dir, '.gitignore'), 'utf8')).split('\n')
    expect(gitignore).toContain('.lobu/')
    expect(gitignore).toContain('.env')
    expect(await readFile(path.join(dir, '.env.example'), 'utf8')).toMatch(/^OPENAI_API_KEY=$/m)
    expect(await readFile(path.join(dir, 'agents/demo/IDENTITY.md'), 'utf8')).toContain('You are Demo')
    expect(await readFile(path.join(dir, 'README.md'), 'utf8')).toContain('lobu chat "hello"')

    // stderr: what was written, then the next steps, including the key to set.
    expect(r.stderr).toContain('created  lobu.toml')
    expect(r.stderr).toMatch(/Next steps:\n {2}cd demo\n {2}export OPENAI_API_KEY=/)
    expect(r.stderr).toContain('lobu run')
    expect(r.stderr).toContain('lobu chat "hello"')
    expect(r.stdout).toBe('')
  })

  it('writes .env with mode 0600 when the key variable is set, and does not print the key', async () => {
    const key = 'sk-test-e2e-0123456789'
    const r = await run(['init', 'demo', '--yes'], {env: {OPENAI_API_KEY: key}})
    expect(r.exitCode, r.stderr).toBe(0)
    const envFile = path.join(sandbox.work, 'demo', '.env')
    expect((await stat(envFile)).mode & 0o777).toBe(0o600)
    expect(await readFile(envFile, 'utf8')).toMatch(new RegExp(`^OPENAI_API_KEY=${key}$`, 'm'))
    expect(r.stderr + r.stdout).not.toContain(key)
    expect(r.stderr).not.toContain('export OPENAI_API_KEY')
  })

  it('the generated project passes lobu validate', async () => {
    expect((await run(['init', 'demo', '--yes'])).exitCode).toBe(0)
    const v = await run(['validate'], {cwd: path.join(sandbox.work, 'demo')})
    expect(v.exitCode, v.stdout + v.stderr).toBe(0)
  })

  it('an invalid agent id exits 2 and leaves no directory', async () => {
    const r = await run(['init', 'demo', '--yes', '--agent', 'Bad_Id'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^Error: invalid agent id "Bad_Id"/m)
    expect(r.stderr).toContain('--agent bad-id')
    expect(existsSync(path.join(sandbox.work, 'demo'))).toBe(false)
  })

  it('an unknown provider exits 2 with a suggestion and leaves no directory', async () => {
    const r = await run(['init', 'demo', '--yes', '--provider', 'opena'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('unknown provider "opena"')
    expect(r.stderr).toContain('Did you mean --provider openai?')
    expect(existsSync(path.join(sandbox.work, 'demo'))).toBe(false)
  })

  it('a bad port exits 2 and leaves no directory', async () => {
    for (const port of ['0', '70000', 'abc']) {
      const r = await run(['init', 'demo', '--yes', '--port', port])
      expect(r.exitCode, port).toBe(2)
      expect(r.stderr, port).toContain(`Error: invalid port "${port}"`)
      expect(existsSync(path.join(sandbox.work, 'demo'))).toBe(false)
    }
  })

  it('a second init needs --force, and writes nothing without it', async () => {
    expect((await run(['init', 'demo', '--yes'])).exitCode).toBe(0)
    const dir = path.join(sandbox.work, 'demo')
    const before = await readFile(path.join(dir, 'lobu.toml'), 'utf8')

    const again = await run(['init', 'demo', '--yes', '--provider', 'anthropic'])
    expect(again.exitCode).toBe(2)
    expect(again.stderr).toContain('lobu.toml already exists')
    expect(again.stderr).toContain('--force')
    expect(await readFile(path.join(dir, 'lobu.toml'), 'utf8')).toBe(before)

    const forced = await run(['init', 'demo', '--yes', '--provider', 'anthropic', '--force'])
    expect(forced.exitCode, forced.stderr).toBe(0)
    const toml = parse(await readFile(path.join(dir, 'lobu.toml'), 'utf8')) as any
    expect(toml.agents.demo.providers).toEqual([{id: 'anthropic', model: 'claude-sonnet-4-5', key: '$ANTHROPIC_API_KEY'}])
    // .gitignore is merged, never duplicated.
    const gitignore = (await readFile(path.join(dir, '.gitignore'), 'utf8')).split('\n')
    expect(gitignore.filter((l) => l === '.lobu/')).toHaveLength(1)
  })

  it('init . --yes scaffolds the current (empty) directory, without a cd step', async () => {
    const dir = path.join(sandbox.work, 'My Project')
    await mkdir(dir)
    const r = await run(['init', '.', '--yes', '--provider', 'ollama'], {cwd: dir})
    expect(r.exitCode, r.stderr).toBe(0)
    expect((await readdir(dir)).sort()).toEqual(['.env.example', '.gitignore', 'README.md', 'agents', 'lobu.toml'])
    const toml = parse(await readFile(path.join(dir, 'lobu.toml'), 'utf8')) as any
    expect(toml.project.id).toMatch(/^my-project-[0-9a-f]{6}$/)
    expect(Object.keys(toml.agents)).toEqual(['my-project'])
    expect(toml.agents['my-project'].providers).toEqual([{id: 'ollama', model: 'llama3.2'}])
    expect(r.stderr).not.toContain('cd ')
    expect(r.stderr).toContain('lobu run')
  })

  it('appends the missing lines to an existing .gitignore and keeps the rest', async () => {
    const dir = path.join(sandbox.work, 'existing')
    await mkdir(dir)
    await writeFile(path.join(dir, '.gitignore'), 'node_modules\n.env\n')
    await writeFile(path.join(dir, 'README.md'), '# mine\n')
    const r = await run(['init', '--here', '--yes'], {cwd: dir})
    expect(r.exitCode, r.stderr).toBe(0)
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toBe('node_modules\n.env\n\n# lobu: local gateway data and secrets\n.lobu/\n')
    expect(await readFile(path.join(dir, 'README.md'), 'utf8')).toBe('# mine\n')
    expect(r.stderr).toMatch(/kept {5}README\.md/)
  })

  it('--json prints the result object on stdout', async () => {
    const r = await run(['init', 'demo', '--yes', '--json', '--agent', 'helper', '--provider', 'groq', '--model', 'llama-3.1-8b-instant', '--port', '8790'])
    expect(r.exitCode, r.stderr).toBe(0)
    const out = r.json<Record<string, unknown>>()
    expect(Object.keys(out).sort()).toEqual(['agent', 'dir', 'files', 'model', 'projectId', 'provider'])
    expect(out).toMatchObject({
      dir: path.join(sandbox.work, 'demo'),
      agent: 'helper',
      provider: 'groq',
      model: 'llama-3.1-8b-instant',
    })
    expect(out.projectId).toMatch(/^demo-[0-9a-f]{6}$/)
    expect(out.files).toEqual([
      'lobu.toml',
      'agents/helper/IDENTITY.md',
      'agents/helper/SOUL.md',
      'agents/helper/USER.md',
      'agents/helper/skills/README.md',
      '.env.example',
      '.gitignore',
      'README.md',
    ])
    const toml = parse(await readFile(path.join(sandbox.work, 'demo', 'lobu.toml'), 'utf8')) as any
    expect(toml.gateway.port).toBe(8790)
  })

  it('--json errors are JSON too, with exit 2', async () => {
    const r = await run(['init', 'demo', '--yes', '--json', '--agent=UPPER'])
    expect(r.exitCode).toBe(2)
    expect(r.json<{error: {code: string}}>().error.code).toBe('USAGE')
  })

  it('without NAME in a non-interactive shell it exits 2 naming the fix', async () => {
    const r = await run(['init'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('missing the project directory')
    expect(await readdir(sandbox.work)).toEqual([])
  })
})

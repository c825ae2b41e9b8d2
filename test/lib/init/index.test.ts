import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import * as path from 'node:path'

import {parse} from 'smol-toml'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {EXIT, exitCodeOf} from '../../../src/lib/cli/exit.js'
import {LobuError, OperationError, UsageError} from '../../../src/lib/core/errors.js'
import {loadProject, parseDotEnv, readAgentFiles, validateProject} from '../../../src/lib/config/index.js'
import {CATALOG} from '../../../src/lib/contract/providers.js'
import {PROJECT_ID_PATTERN} from '../../../src/lib/contract/ids.js'
import {type InitOptions, initProject} from '../../../src/lib/init/index.js'
import {dotenvLine} from '../../../src/lib/init/files.js'
import {formatSummary} from '../../../src/lib/init/output.js'
import type {Prompter} from '../../../src/lib/init/prompts.js'
import {placeholders} from '../../../src/lib/init/render.js'
import {templatesDir} from '../../../src/lib/init/templates.js'

let cwd: string
beforeEach(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'lobu-init-'))
})
afterEach(async () => {
  await rm(cwd, {recursive: true, force: true})
})

const init = (o: Partial<InitOptions> = {}) => initProject({cwd, env: {}, projectSuffix: 'abc123', ...o})
const read = (...p: string[]) => readFile(path.join(cwd, ...p), 'utf8')

async function expectUsage(p: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(UsageError)
  expect(exitCodeOf((error as UsageError))).toBe(EXIT.usage)
  expect((error as UsageError).message).toMatch(message)
}

/** A prompter that answers from a script and records the questions. */
function scripted(answers: Record<string, string | boolean>) {
  const asked: {kind: string; message: string; default?: unknown}[] = []
  const answer = (kind: string, message: string, def?: unknown) => {
    asked.push({kind, message, default: def})
    const key = Object.keys(answers).find((k) => message.startsWith(k))
    if (key === undefined) throw new Error(`unexpected question: ${message}`)
    return answers[key]!
  }
  const prompter: Prompter = {
    async input(q) {
      const a = String(answer('input', q.message, q.default))
      const value = a === '' && q.default !== undefined ? q.default : a
      const valid = q.validate?.(value) ?? true
      if (valid !== true) throw new Error(`invalid answer to ${q.message}: ${valid}`)
      return value
    },
    async select(q) {
      return String(answer('select', q.message, q.default))
    },
    async confirm(q) {
      return Boolean(answer('confirm', q.message, q.default))
    },
    async password(q) {
      const a = String(answer('password', q.message))
      const valid = q.validate?.(a) ?? true
      if (valid !== true) throw new Error(`invalid answer to ${q.message}: ${valid}`)
      return a
    },
  }
  return {prompter, asked}
}

describe('initProject without prompts', () => {
  it('writes the project with the defaults', async () => {
    const out = await init({name: 'demo'})
    expect(out.result).toEqual({
      dir: path.join(cwd, 'demo'),
      projectId: 'demo-abc123',
      agent: 'demo',
      provider: 'openai',
      model: 'gpt-4o-mini',
      files: [
        'lobu.toml',
        'agents/demo/IDENTITY.md',
        'agents/demo/SOUL.md',
        'agents/demo/USER.md',
        'agents/demo/skills/README.md',
        '.env.example',
        '.gitignore',
        'README.md',
      ],
    })
    expect(out.cdPath).toBe('demo')
    expect(out.keyVariable).toBe('OPENAI_API_KEY')
    expect(out.keyReady).toBe(false)
    const toml = parse(await read('demo', 'lobu.toml')) as any
    expect(toml).toEqual({
      project: {id: 'demo-abc123'},
      gateway: {port: 8787},
      agents: {
        demo: {
          name: 'Demo',
          description: 'A helpful assistant',
          dir: './agents/demo',
          providers: [{id: 'openai', model: 'gpt-4o-mini', key: '$OPENAI_API_KEY'}],
        },
      },
    })
    expect(existsSync(path.join(cwd, 'demo', '.env'))).toBe(false)
    // No placeholder survives in any written file.
    for (const f of out.result.files) expect(await read('demo', f), f).not.toMatch(/\{\{/)
  })

  it.each(CATALOG.map((e) => e.id))('writes a lobu.toml that parses for provider %s', async (id) => {
    const entry = CATALOG.find((e) => e.id === id)!
    const out = await init({name: 'p', provider: id, port: id === 'openai' ? '9000' : 9000})
    const toml = parse(await read('p', 'lobu.toml')) as any
    expect(toml.gateway.port).toBe(9000)
    const provider = toml.agents.p.providers[0]
    expect(provider.id).toBe(id)
    expect(provider.model).toBe(entry.defaultModel)
    if (entry.keyEnv.length === 0) expect(provider).not.toHaveProperty('key')
    else expect(provider.key).toBe(`$${entry.keyEnv[0]}`)
    expect(await read('p', '.env.example')).toContain(entry.keyEnv[0] ? `\n${entry.keyEnv[0]}=\n` : 'OLLAMA_HOST')
    expect(out.result.model).toBe(entry.defaultModel)
  })

  it('escapes a model id with quotes for TOML', async () => {
    await init({name: 'q', model: 'we"ird\\model'})
    expect((parse(await read('q', 'lobu.toml')) as any).agents.q.providers[0].model).toBe('we"ird\\model')
  })

  it('writes .env (0600) from the environment; gemini accepts GOOGLE_API_KEY', async () => {
    const out = await init({name: 'g', provider: 'gemini', env: {GOOGLE_API_KEY: 'g-key'}})
    expect(out.keyReady).toBe(true)
    expect(out.result.files).toContain('.env')
    expect(await read('g', '.env')).toMatch(/^GEMINI_API_KEY=g-key$/m)
    expect((await stat(path.join(cwd, 'g', '.env'))).mode & 0o777).toBe(0o600)
  })

  it('slugs the directory name into the agent and project ids', async () => {
    const out = await init({name: path.join('nested', 'Über Bot!')})
    expect(out.result.agent).toBe('uber-bot')
    expect(out.result.projectId).toBe('uber-bot-abc123')
    expect(out.result.projectId).toMatch(PROJECT_ID_PATTERN)
  })

  it('uses the current directory with "." or here', async () => {
    const out = await init({here: true})
    expect(out.result.dir).toBe(cwd)
    expect(out.cdPath).toBeUndefined()
    expect(existsSync(path.join(cwd, 'lobu.toml'))).toBe(true)
  })
})

describe('initProject validation: nothing is written', () => {
  const cases: [string, Partial<InitOptions>, RegExp][] = [
    ['bad agent id', {agent: 'Bad_Id'}, /invalid agent id "Bad_Id"/],
    ['agent id too long', {agent: 'a'.repeat(64)}, /invalid agent id/],
    ['unknown provider', {provider: 'nope'}, /unknown provider "nope"/],
    ['port 0', {port: 0}, /invalid port "0"/],
    ['port 65536', {port: 65_536}, /invalid port "65536"/],
    ['port 1.5', {port: 1.5}, /invalid port/],
    ['port "abc"', {port: 'abc'}, /invalid port "abc"/],
    ['port "80x"', {port: '80x'}, /invalid port/],
    ['port ""', {port: ''}, /invalid port/],
    ['empty model', {model: ' '}, /invalid model/],
    ['--here with a name', {here: true}, /cannot be used together/],
  ]
  it.each(cases)('%s → UsageError', async (_label, opts, message) => {
    await expectUsage(init({name: 'demo', ...opts}), message)
    expect(await readdir(cwd)).toEqual([])
  })

  it('a missing directory without a prompter is a usage error', async () => {
    await expectUsage(init({}), /missing the project directory/)
  })

  it('refuses an existing lobu.toml without force, and changes nothing', async () => {
    await mkdir(path.join(cwd, 'demo'))
    await writeFile(path.join(cwd, 'demo', 'lobu.toml'), 'mine = 1\n')
    await expectUsage(init({name: 'demo'}), /lobu\.toml already exists/)
    expect(await readdir(path.join(cwd, 'demo'))).toEqual(['lobu.toml'])
    expect(await read('demo', 'lobu.toml')).toBe('mine = 1\n')
  })

  it('refuses a target that is a file', async () => {
    await writeFile(path.join(cwd, 'demo'), '')
    await expectUsage(init({name: 'demo'}), /not a directory/)
  })

  it('refuses a directory where a file goes, before writing anything', async () => {
    await mkdir(path.join(cwd, 'demo', 'README.md'), {recursive: true})
    await expectUsage(init({name: 'demo'}), /README\.md exists .* not a regular file/)
    expect(await readdir(path.join(cwd, 'demo'))).toEqual(['README.md'])
  })

  it('validates flags before asking anything', async () => {
    const {prompter, asked} = scripted({})
    await expectUsage(init({name: 'demo', provider: 'nope', prompter}), /unknown provider/)
    expect(asked).toEqual([])
  })
})

describe('initProject rollback on a failure mid-write', () => {
  it('removes the directory it created, including its parents', async () => {
    let writes = 0
    const error = await init({
      name: path.join('a', 'b', 'demo'),
      env: {OPENAI_API_KEY: 'k'},
      beforeWrite: () => {
        if (++writes === 4) throw new Error('disk full')
      },
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect((error as LobuError).message).toContain('disk full')
    expect(writes).toBe(4)
    expect(await readdir(cwd)).toEqual([])
  })

  it('in an existing directory: removes what it created and restores what it changed', async () => {
    const dir = path.join(cwd, 'proj')
    await mkdir(dir)
    await writeFile(path.join(dir, '.gitignore'), 'node_modules\n')
    await writeFile(path.join(dir, '.env'), 'OTHER=1\n', {mode: 0o644})
    const error = await init({
      name: 'proj',
      env: {OPENAI_API_KEY: 'k'},
      beforeWrite: (rel) => {
        if (rel === 'lobu.toml') throw new Error('boom')
      },
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect((await readdir(dir)).sort()).toEqual(['.env', '.gitignore'])
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toBe('node_modules\n')
    expect(await readFile(path.join(dir, '.env'), 'utf8')).toBe('OTHER=1\n')
    expect((await stat(path.join(dir, '.env'))).mode & 0o777).toBe(0o644)
  })
})

describe('initProject with existing files', () => {
  it('keeps existing files without force, merges .gitignore, .env and .env.example', async () => {
    const dir = path.join(cwd, 'proj')
    await mkdir(path.join(dir, 'agents', 'proj'), {recursive: true})
    await writeFile(path.join(dir, 'agents', 'proj', 'SOUL.md'), 'my soul\n')
    await writeFile(path.join(dir, '.env'), 'OTHER=1\n', {mode: 0o644})
    await writeFile(path.join(dir, '.env.example'), 'OTHER=\n')
    await writeFile(path.join(dir, '.gitignore'), '/.env\n')
    const out = await init({name: 'proj', env: {OPENAI_API_KEY: 'sk-1'}})
    expect(await read('proj', 'agents', 'proj', 'SOUL.md')).toBe('my soul\n')
    expect(await read('proj', '.env')).toBe('OTHER=1\nOPENAI_API_KEY=sk-1\n')
    expect((await stat(path.join(dir, '.env'))).mode & 0o777).toBe(0o600)
    expect(await read('proj', '.env.example')).toBe('OTHER=\nOPENAI_API_KEY=\n')
    expect(await read('proj', '.gitignore')).toBe('/.env\n\n# lobu: local gateway data and secrets\n.lobu/\n')
    const byPath = Object.fromEntries(out.files.map((f) => [f.path, f.action]))
    expect(byPath).toMatchObject({
      'lobu.toml': 'created',
      'agents/proj/SOUL.md': 'kept',
      '.env': 'updated',
      '.env.example': 'updated',
      '.gitignore': 'updated',
    })
    expect(out.result.files).not.toContain('agents/proj/SOUL.md')
  })

  it('with force overwrites files and replaces the key in .env, but never drops .gitignore lines', async () => {
    await init({name: 'proj', env: {OPENAI_API_KEY: 'old'}})
    await writeFile(path.join(cwd, 'proj', 'README.md'), 'edited\n')
    await writeFile(path.join(cwd, 'proj', '.gitignore'), '.lobu/\n.env\ncustom\n')
    const out = await init({name: 'proj', force: true, env: {OPENAI_API_KEY: 'new'}, projectSuffix: 'def456'})
    expect(out.result.projectId).toBe('proj-def456')
    expect(await read('proj', 'README.md')).toContain('# proj')
    expect(await read('proj', '.env')).toMatch(/^OPENAI_API_KEY=new$/m)
    expect(await read('proj', '.env')).not.toContain('old')
    expect(await read('proj', '.gitignore')).toBe('.lobu/\n.env\ncustom\n')
    expect(out.files.find((f) => f.path === 'lobu.toml')?.action).toBe('overwritten')
  })

  it('a key already in .env counts as ready', async () => {
    await mkdir(path.join(cwd, 'proj'))
    await writeFile(path.join(cwd, 'proj', '.env'), 'OPENAI_API_KEY=sk-there\n')
    const out = await init({name: 'proj'})
    expect(out.keyReady).toBe(true)
    expect(out.files.map((f) => f.path)).not.toContain('.env')
  })
})

describe('initProject with prompts', () => {
  it('asks for what the flags did not fix and writes the typed key', async () => {
    const {prompter, asked} = scripted({
      'Agent id': 'helper',
      'Model provider': 'anthropic',
      Model: '',
      'Save your ANTHROPIC_API_KEY': true,
      ANTHROPIC_API_KEY: 'sk-ant-typed',
    })
    const out = await init({name: 'demo', prompter})
    expect(asked.map((q) => q.kind)).toEqual(['input', 'select', 'input', 'confirm', 'password'])
    expect(asked[0]!.default).toBe('demo')
    expect(asked[2]!.default).toBe('claude-sonnet-4-5')
    expect(asked[3]!.default).toBe(false)
    expect(out.result).toMatchObject({agent: 'helper', provider: 'anthropic', model: 'claude-sonnet-4-5'})
    expect(await read('demo', '.env')).toMatch(/^ANTHROPIC_API_KEY=sk-ant-typed$/m)
  })

  it('offers the key from the environment by default; an empty answer uses it', async () => {
    const {prompter, asked} = scripted({'Save OPENAI_API_KEY from your environment': true, OPENAI_API_KEY: ''})
    await init({name: 'demo', agent: 'bot', provider: 'openai', model: 'gpt-4o', prompter, env: {OPENAI_API_KEY: 'sk-env'}})
    expect(asked.map((q) => q.kind)).toEqual(['confirm', 'password'])
    expect(asked[0]!.default).toBe(true)
    expect(await read('demo', '.env')).toMatch(/^OPENAI_API_KEY=sk-env$/m)
  })

  it('writes no .env when the user declines, and asks nothing about keys for ollama', async () => {
    const declined = scripted({'Save your OPENAI_API_KEY': false})
    const out = await init({name: 'a', agent: 'a', provider: 'openai', model: 'm', prompter: declined.prompter})
    expect(out.keyReady).toBe(false)
    expect(existsSync(path.join(cwd, 'a', '.env'))).toBe(false)

    const ollama = scripted({})
    await init({name: 'b', agent: 'b', provider: 'ollama', model: 'llama3.2', prompter: ollama.prompter})
    expect(ollama.asked).toEqual([])
  })

  it('asks for the directory when none was given, and validates the agent id answer', async () => {
    const {prompter} = scripted({'Project directory': 'from-prompt', 'Agent id': 'Bad Id'})
    await expect(init({prompter, provider: 'ollama', model: 'x'})).rejects.toThrow(/invalid agent id "Bad Id" \(try "bad-id"\)/)
    expect(await readdir(cwd)).toEqual([])
  })
})

describe('templates', () => {
  it('are found from src/ and every placeholder they use is provided', async () => {
    const dir = templatesDir()
    const files = ['lobu.toml.tmpl', 'README.md', 'env', 'env.example', 'gitignore', 'agent/IDENTITY.md', 'agent/SOUL.md', 'agent/USER.md', 'agent/skills/README.md']
    for (const f of files) expect(existsSync(path.join(dir, f)), f).toBe(true)
    // initProject renders each of them and throws on a missing value; this run covers all.
    await init({name: 'all', env: {OPENAI_API_KEY: 'k'}})
    const used = new Set<string>()
    for (const f of files) for (const p of placeholders(await readFile(path.join(dir, f), 'utf8'))) used.add(p)
    expect(used.size).toBeGreaterThan(5)
  })

  it('ships with the package', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {files: string[]}
    expect(pkg.files).toContain('templates')
  })
})

describe('formatSummary', () => {
  it('lists files and next steps; names the key variable only when no key is ready', async () => {
    const out = await init({name: 'my demo'})
    const text = formatSummary(out)
    expect(text).toMatch(/^Created Lobu project my-demo-abc123 in 'my demo'/)
    expect(text).toContain('  created  lobu.toml\n')
    expect(text).toContain("  cd 'my demo'\n  export OPENAI_API_KEY=")
    expect(text).toMatch(/ {2}lobu run\n {2}lobu chat "hello"\n$/)

    const ready = formatSummary(await init({name: 'ready', env: {OPENAI_API_KEY: 'k'}}))
    expect(ready).not.toContain('export')
    expect(ready).not.toContain('k\n')
  })
})

describe('the generated project validates with loadProject', () => {
  it.each(CATALOG.map((e) => e.id))('provider %s: valid, no warnings, the key resolves from .env', async (provider) => {
    const entry = CATALOG.find((e) => e.id === provider)!
    const keyVar = entry.keyEnv[0]
    await init({name: 'v', provider, env: keyVar ? {[keyVar]: 'sk-"quoted" \\ value'} : {}})
    const project = await loadProject({cwd: path.join(cwd, 'v'), env: {}})
    expect(project.warnings).toEqual([])
    expect(project.config.project?.id).toBe('v-abc123')
    expect(Object.keys(project.config.agents)).toEqual(['v'])
    if (keyVar) expect(project.env[keyVar]).toBe('sk-"quoted" \\ value')
    const {report} = await validateProject({cwd: path.join(cwd, 'v'), env: {}})
    expect(report).toMatchObject({valid: true, errors: [], warnings: [], agents: ['v']})
    const files = await readAgentFiles(project, 'v')
    expect(files.identity).toContain('You are V')
    expect(files.soul).toBeDefined()
    expect(files.user).toBeDefined()
  })

  it('without a key, validate only warns about the missing variable', async () => {
    await init({name: 'v'})
    const {report} = await validateProject({cwd: path.join(cwd, 'v'), env: {}})
    expect(report.valid).toBe(true)
    expect(report.warnings.map((w) => w.message).join('\n')).toContain('OPENAI_API_KEY')
  })
})

describe('dotenvLine', () => {
  it('round-trips through the .env parser of src/lib/config', () => {
    for (const value of ['sk-plain_1.2/3+4=', 'with space', 'q"uote', 'back\\slash', "single'quote", '#hash', 'multi\nline']) {
      expect(parseDotEnv(dotenvLine('K', value)).K, value).toBe(value)
    }
  })
})

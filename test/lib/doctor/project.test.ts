import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {Project} from '../../../src/lib/config/index.js'
import {
  checkAgentProviders,
  checkConfigFile,
  checkEnvRefs,
  checkSystemProviders,
  providerKeyState,
} from '../../../src/lib/doctor/index.js'
import {type TempDir, agentToml, tempDir, writeProject} from './helpers.js'

let tmp: TempDir
let dir: string

beforeEach(() => {
  tmp = tempDir()
  dir = join(tmp.root, 'demo')
})

afterEach(() => tmp.cleanup())

async function load(env: NodeJS.ProcessEnv = {}): Promise<Project> {
  const {project, check} = await checkConfigFile({cwd: dir, env})
  expect(project, check.message).toBeDefined()
  return project!
}

describe('checkConfigFile', () => {
  it('warns when no lobu.toml is found (project checks are skipped)', async () => {
    const {project, check} = await checkConfigFile({cwd: tmp.root, env: {}})
    expect(project).toBeUndefined()
    expect(check).toMatchObject({id: 'lobu-toml', status: 'warn'})
    expect(check.message).toContain('no lobu.toml')
    expect(check.fix).toContain('lobu init')
  })

  it('passes on a valid file and names its agents', async () => {
    writeProject(dir, agentToml('support', ['id = "openai"\nkey = "$OPENAI_API_KEY"']))
    const {project, check} = await checkConfigFile({cwd: dir, env: {}})
    expect(project?.config.agents.support).toBeDefined()
    expect(check).toEqual({id: 'lobu-toml', status: 'ok', message: 'lobu.toml: valid, 1 agent (support)'})
  })

  it('counts warnings and shows them with their position', async () => {
    writeProject(dir, agentToml('a', ['id = "openai"\nkey = "sk-literal"'], '[memory]\nx = 1\n\n'))
    const {project, check} = await checkConfigFile({cwd: dir, env: {}})
    expect(project).toBeDefined()
    expect(check.status).toBe('warn')
    expect(check.message).toMatch(/^lobu\.toml: valid, 1 agent \(a\), 2 warnings:\n/)
    expect(check.message).toContain('lobu.toml:1:1  memory  not supported yet: ignored')
    expect(check.message).toContain('literal API key')
    expect(check.fix).toContain('lobu validate')
  })

  it('fails on an invalid file with its first errors and how many more', async () => {
    const typos = ['modle = "x"', 'nmae = "y"', 'dri = "z"', 'descripton = "w"', 'netwrk = 1']
    writeProject(dir, agentToml('a', [], '') + typos.join('\n') + '\n')
    const {project, check} = await checkConfigFile({cwd: dir, env: {}})
    expect(project).toBeUndefined()
    expect(check.status).toBe('fail')
    const lines = check.message.split('\n')
    expect(lines[0]).toBe('lobu.toml has 5 errors:')
    expect(lines.slice(1, 4).every((l) => /^lobu\.toml:\d+:\d+  agents\.a\./.test(l))).toBe(true)
    expect(lines[4]).toBe('… and 2 more')
    expect(check.fix).toContain('lobu validate')
  })

  it('fails on a TOML syntax error', async () => {
    writeProject(dir, '[agents.a\nname = "a"\n')
    const {check} = await checkConfigFile({cwd: dir, env: {}})
    expect(check.status).toBe('fail')
    expect(check.message).toMatch(/^lobu\.toml is not valid TOML:\nlobu\.toml:1:/)
  })

  it('fails when LOBU_CONFIG names a file that does not exist', async () => {
    const {check} = await checkConfigFile({cwd: tmp.root, env: {LOBU_CONFIG: 'nope.toml'}})
    expect(check.status).toBe('fail')
    expect(check.message).toContain('config file not found: nope.toml (from LOBU_CONFIG)')
  })
})

describe('checkEnvRefs', () => {
  const toml = agentToml('a', ['id = "openai"\nkey = "$OPENAI_API_KEY"', 'id = "anthropic"\nkey = "$ANTHROPIC_API_KEY"'])

  it('warns naming each unset variable, where it is used, and where to set it', async () => {
    writeProject(dir, toml, {dotenv: 'ANTHROPIC_API_KEY=sk-ant\n'})
    const c = checkEnvRefs(await load(), dir)
    expect(c.status).toBe('warn')
    expect(c.message).toMatch(/^\$OPENAI_API_KEY is not set \(lobu\.toml:\d+:\d+ agents\.a\.providers\[0\]\.key\)$/)
    expect(c.fix).toBe('Set it in the environment (export OPENAI_API_KEY=…) or in .env')
  })

  it('lists several unset variables, with the .env path relative to the working directory', async () => {
    writeProject(dir, toml)
    const project = await load()
    const c = checkEnvRefs(project, tmp.root)
    expect(c.message.split('\n')[0]).toBe('2 variables are not set: $OPENAI_API_KEY, $ANTHROPIC_API_KEY')
    expect(c.message).toContain('ANTHROPIC_API_KEY: lobu.toml:')
    expect(c.fix).toContain('in demo/.env')
  })

  it('passes when every reference is set, from the environment or .env, and never shows values', async () => {
    writeProject(dir, toml, {dotenv: 'ANTHROPIC_API_KEY=sk-ant-secret\n'})
    const c = checkEnvRefs(await load({OPENAI_API_KEY: 'sk-secret'}), dir)
    expect(c).toEqual({id: 'env-refs', status: 'ok', message: '2 $NAME references set: OPENAI_API_KEY, ANTHROPIC_API_KEY'})
  })
})

describe('provider keys', () => {
  it('tells how each kind of key resolves', () => {
    const env = {SET: 'x'}
    expect(providerKeyState({id: 'openai', model: 'm', key: '$SET'}, env)).toEqual({ok: true, text: '$SET'})
    expect(providerKeyState({id: 'openai', model: 'm', key: '$UNSET'}, env)).toEqual({ok: false, text: '$UNSET not set', missingVar: 'UNSET'})
    expect(providerKeyState({id: 'openai', model: 'm', key: 'sk-lit'}, env)).toEqual({ok: true, text: 'literal key'})
    expect(providerKeyState({id: 'openai', model: 'm', secret_ref: 'OPENAI'}, env)).toEqual({ok: true, text: 'org secret OPENAI'})
    expect(providerKeyState({id: 'ollama', model: 'm'}, env)).toEqual({ok: true, text: 'keyless'})
    expect(providerKeyState({id: 'groq', model: 'm'}, env)).toEqual({ok: false, text: 'no key'})
  })

  it('checks every agent: ok when all keys resolve, warn naming the variable otherwise', async () => {
    const toml = [
      agentToml('good', ['id = "openai"\nkey = "$OPENAI_API_KEY"', 'id = "ollama"']),
      agentToml('half', ['id = "anthropic"\nkey = "$ANTHROPIC_API_KEY"', 'id = "openai"\nkey = "$OPENAI_API_KEY"']),
      agentToml('none', ['id = "groq"']),
      agentToml('sys'),
    ].join('\n')
    writeProject(dir, toml)
    const checks = checkAgentProviders(await load({OPENAI_API_KEY: 'sk'}), dir)
    const by = Object.fromEntries(checks.map((c) => [c.id, c]))
    expect(by['providers:good']).toEqual({id: 'providers:good', status: 'ok', message: 'agent good: openai/gpt-4o-mini ($OPENAI_API_KEY), ollama/llama3.2 (keyless)'})
    expect(by['providers:half']).toMatchObject({status: 'warn', fix: 'Set ANTHROPIC_API_KEY in the environment or in .env'})
    expect(by['providers:half']!.message).toContain('anthropic/claude-sonnet-4-5 ($ANTHROPIC_API_KEY not set)')
    expect(by['providers:half']!.message).toContain('the others are used in order')
    expect(by['providers:none']).toMatchObject({status: 'warn', fix: 'Add key = "$GROQ_API_KEY" to provider groq of agents.none in lobu.toml'})
    expect(by['providers:none']!.message).toContain('falls back to the system providers')
    expect(by['providers:sys']).toMatchObject({status: 'ok'})
    expect(by['providers:sys']!.message).toContain('system providers')
  })
})

describe('checkSystemProviders', () => {
  it('lists the catalog providers whose key variable is set (ollama via OLLAMA_HOST)', () => {
    const c = checkSystemProviders({GOOGLE_API_KEY: 'g', OLLAMA_HOST: '127.0.0.1:11434', OPENAI_API_KEY: ''})
    expect(c).toEqual({id: 'system-providers', status: 'ok', message: 'system providers (keys in the environment): gemini (GOOGLE_API_KEY), ollama (OLLAMA_HOST)'})
  })

  it('warns when none is set and something needs them', async () => {
    const outside = checkSystemProviders({})
    expect(outside.status).toBe('warn')
    expect(outside.message).toContain("the gateway's default agent has no model")
    expect(outside.fix).toContain('OPENAI_API_KEY')

    writeProject(dir, agentToml('a', ['id = "openai"\nkey = "$OPENAI_API_KEY"']))
    const keyless = checkSystemProviders({}, await load())
    expect(keyless).toMatchObject({status: 'warn'})
    expect(keyless.message).toContain('agent a has no model')
  })

  it('is fine without system providers when every agent has its own key', async () => {
    writeProject(dir, agentToml('a', ['id = "openai"\nkey = "$OPENAI_API_KEY"']), {dotenv: 'OPENAI_API_KEY=sk\n'})
    // The key is in .env: the agent has it, but it is no system provider (those come from the environment only).
    const c = checkSystemProviders({}, await load())
    expect(c.status).toBe('ok')
    expect(c.message).toContain('every agent has its own key')
  })
})

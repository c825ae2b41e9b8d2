import {describe, expect, it} from 'vitest'

import {
  type Project,
  MissingEnvError,
  collectEnvRefs,
  formatIssue,
  loadProject,
  parseEnvRef,
  requireEnvRefs,
  resolveEnvRefs,
} from '../../../src/lib/config/index.js'
import {EXIT, exitCodeOf} from '../../../src/lib/cli/exit.js'
import {AGENT, tempProject} from './helpers.js'

const SOURCE = [
  '[agents.support]', // 1
  AGENT.trim(), // 2-3
  '[[agents.support.providers]]', // 4
  'id = "openai"', // 5
  'key = "$OPENAI_API_KEY"', // 6
  '[[agents.support.providers]]', // 7
  'id = "anthropic"', // 8
  'key = "${ANTHROPIC_API_KEY}"', // 9
  '[[agents.support.providers]]', // 10
  'id = "groq"', // 11
  'key = "gsk-literal"', // 12
  '[agents.support.skills.mcp.docs]', // 13
  'url = "https://mcp.example.com"', // 14
  'headers = { Authorization = "$DOCS_TOKEN", "X-Plain" = "Bearer $NOT_A_REF" }', // 15
  'oauth = { auth_url = "https://a.example.com/a", token_url = "https://a.example.com/t", client_secret = "$DOCS_SECRET" }', // 16
  '[agents.support.skills.mcp.fs]', // 17
  'command = "npx"', // 18
  'env = { ROOT = "/srv", TOKEN = "$OPENAI_API_KEY" }', // 19
].join('\n')

async function project(dotenv = ''): Promise<Project> {
  const root = await tempProject({'.env': dotenv, 'lobu.toml': SOURCE})
  return loadProject({cwd: root, env: {}})
}

describe('$NAME references', () => {
  it('parseEnvRef: exactly $NAME or ${NAME}', () => {
    expect(parseEnvRef('$OPENAI_API_KEY')).toBe('OPENAI_API_KEY')
    expect(parseEnvRef('${_X1}')).toBe('_X1')
    expect(parseEnvRef('$lower')).toBeUndefined()
    expect(parseEnvRef('$1ABC')).toBeUndefined()
    expect(parseEnvRef('Bearer $TOKEN')).toBeUndefined()
    expect(parseEnvRef('$TOKEN ')).toBeUndefined()
    expect(parseEnvRef('${TOKEN')).toBeUndefined()
  })

  it('collects every reference (provider key, MCP env/headers, oauth.client_secret) with its position', async () => {
    const refs = collectEnvRefs(await project())
    expect(refs.map((r) => `${r.file}:${r.line}:${r.col} ${r.path} ${r.name}`)).toEqual([
      'lobu.toml:6:7 agents.support.providers[0].key OPENAI_API_KEY',
      'lobu.toml:9:7 agents.support.providers[1].key ANTHROPIC_API_KEY',
      'lobu.toml:15:29 agents.support.skills.mcp.docs.headers.Authorization DOCS_TOKEN',
      'lobu.toml:16:104 agents.support.skills.mcp.docs.oauth.client_secret DOCS_SECRET',
      'lobu.toml:19:32 agents.support.skills.mcp.fs.env.TOKEN OPENAI_API_KEY',
    ])
  })

  it('positions survive a Project built without its source (re-read from the file)', async () => {
    const loaded = await project()
    const copy: Project = {...loaded, config: structuredClone(loaded.config), displayFile: 'lobu.toml'}
    expect(collectEnvRefs(copy).map((r) => [r.line, r.col])).toEqual([
      [6, 7],
      [9, 7],
      [15, 29],
      [16, 104],
      [19, 32],
    ])
  })

  it('resolveEnvRefs: values from the project env (.env under process env), one issue per missing reference', async () => {
    const p = await project('OPENAI_API_KEY=sk-1\nDOCS_TOKEN=\n')
    const {missing, values} = resolveEnvRefs(p)
    expect(values).toEqual({OPENAI_API_KEY: 'sk-1'})
    expect(missing.map((m) => formatIssue(m))).toEqual([
      'lobu.toml:9:7  agents.support.providers[1].key  $ANTHROPIC_API_KEY is not set (in the environment or .env)',
      'lobu.toml:15:29  agents.support.skills.mcp.docs.headers.Authorization  $DOCS_TOKEN is not set (in the environment or .env)',
      'lobu.toml:16:104  agents.support.skills.mcp.docs.oauth.client_secret  $DOCS_SECRET is not set (in the environment or .env)',
    ])
    expect(missing.map((m) => m.name)).toEqual(['ANTHROPIC_API_KEY', 'DOCS_TOKEN', 'DOCS_SECRET'])
  })

  it('resolveEnvRefs with an explicit env uses that env', async () => {
    const p = await project('OPENAI_API_KEY=from-dotenv\n')
    const all = {ANTHROPIC_API_KEY: 'a', DOCS_SECRET: 's', DOCS_TOKEN: 't', OPENAI_API_KEY: 'o'}
    expect(resolveEnvRefs(p, all)).toEqual({missing: [], values: all})
  })

  it('requireEnvRefs throws one exit-2 error listing EVERY missing name with its position', async () => {
    const p = await project()
    let caught: unknown
    try {
      requireEnvRefs(p)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(MissingEnvError)
    const error = caught as MissingEnvError
    expect(exitCodeOf(error)).toBe(EXIT.usage)
    expect(error.code).toBe('ENV_MISSING')
    expect(error.message).toBe('4 environment variables are not set: OPENAI_API_KEY, ANTHROPIC_API_KEY, DOCS_TOKEN, DOCS_SECRET')
    expect(error.details).toEqual([
      'lobu.toml:6:7  agents.support.providers[0].key  $OPENAI_API_KEY is not set (in the environment or .env)',
      'lobu.toml:9:7  agents.support.providers[1].key  $ANTHROPIC_API_KEY is not set (in the environment or .env)',
      'lobu.toml:15:29  agents.support.skills.mcp.docs.headers.Authorization  $DOCS_TOKEN is not set (in the environment or .env)',
      'lobu.toml:16:104  agents.support.skills.mcp.docs.oauth.client_secret  $DOCS_SECRET is not set (in the environment or .env)',
      'lobu.toml:19:32  agents.support.skills.mcp.fs.env.TOKEN  $OPENAI_API_KEY is not set (in the environment or .env)',
    ])
    expect(error.hint).toMatch(/^Set them in the environment or in .*\.env$/)
  })

  it('requireEnvRefs returns the values when all are set', async () => {
    const p = await project('OPENAI_API_KEY=o\nANTHROPIC_API_KEY=a\nDOCS_TOKEN=t\nDOCS_SECRET=s\n')
    expect(requireEnvRefs(p)).toEqual({ANTHROPIC_API_KEY: 'a', DOCS_SECRET: 's', DOCS_TOKEN: 't', OPENAI_API_KEY: 'o'})
  })
})

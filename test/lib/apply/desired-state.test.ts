import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {buildDesiredState, literalSecretName} from '../../../src/lib/apply/desired-state.js'
import {projectIdOf} from '../../../src/lib/config/project-id.js'
import {loadProject} from '../../../src/lib/config/index.js'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
})

async function project(toml: string, files: Record<string, string> = {}, dotenv?: string) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lobu-apply-'))
  dirs.push(root)
  await writeFile(path.join(root, 'lobu.toml'), toml)
  await mkdir(path.join(root, 'agents/support/skills'), {recursive: true})
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(root, name), content)
  if (dotenv !== undefined) await writeFile(path.join(root, '.env'), dotenv)
  return loadProject({cwd: root, env: {}})
}

const SUPPORT = `
[project]
id = "desk-3f9a2c"

[agents.support]
name = "Support"
description = "Answers product questions"
dir = "./agents/support"

[[agents.support.providers]]
id = "openai"
model = "gpt-4o-mini"
key = "$OPENAI_API_KEY"

[[agents.support.providers]]
id = "anthropic"
model = "claude-sonnet-4-5"
key = "$ANTHROPIC_API_KEY"

[agents.support.skills.mcp.docs]
url = "https://mcp.example.com/mcp"
headers = { Authorization = "$DOCS_TOKEN" }

[agents.support.network]
allowed = ["api.openai.com"]

[agents.support.tools]
pre_approved = ["/mcp/docs/tools/*"]
`

describe('buildDesiredState', () => {
  it('turns $NAME keys into secret references and carries their values in secrets', async () => {
    const p = await project(SUPPORT, {'agents/support/IDENTITY.md': 'You help.', 'agents/support/skills/faq.md': '# FAQ'})
    const state = await buildDesiredState(p, {OPENAI_API_KEY: 'sk-open', ANTHROPIC_API_KEY: 'sk-ant', DOCS_TOKEN: 'tok'})
    expect(state.project).toBe('desk-3f9a2c')
    expect(state.secrets).toEqual({OPENAI_API_KEY: 'sk-open', ANTHROPIC_API_KEY: 'sk-ant', DOCS_TOKEN: 'tok'})
    expect(state.agents).toEqual([
      {
        id: 'support',
        name: 'Support',
        description: 'Answers product questions',
        files: {identity: 'You help.', skills: [{name: 'faq', content: '# FAQ'}]},
        providers: [
          {id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'OPENAI_API_KEY'}},
          {id: 'anthropic', model: 'claude-sonnet-4-5', key: {kind: 'secret', name: 'ANTHROPIC_API_KEY'}},
        ],
        mcp: {docs: {type: 'streamable-http', url: 'https://mcp.example.com/mcp', headers: {Authorization: '$DOCS_TOKEN'}, authScope: 'user'}},
        network: {allowed: ['api.openai.com'], denied: []},
        tools: {preApproved: ['/mcp/docs/tools/*'], allowed: [], denied: []},
      },
    ])
    // No secret value is left in the agent specs.
    expect(JSON.stringify(state.agents)).not.toMatch(/sk-open|sk-ant|"tok"/)
  })

  it('reads values from .env when the environment does not set them', async () => {
    const p = await project(SUPPORT, {}, 'OPENAI_API_KEY=sk-dotenv\nANTHROPIC_API_KEY=a\nDOCS_TOKEN=d\n')
    const state = await buildDesiredState(p, {ANTHROPIC_API_KEY: 'from-env'})
    expect(state.secrets).toMatchObject({OPENAI_API_KEY: 'sk-dotenv', ANTHROPIC_API_KEY: 'from-env'})
  })

  it('lists every missing variable at once (exit 2)', async () => {
    const p = await project(SUPPORT)
    const error = await buildDesiredState(p, {ANTHROPIC_API_KEY: 'x'}).catch((e: unknown) => e)
    expect(error).toMatchObject({kind: 'usage'})
    const {message, details} = error as {message: string; details: string[]}
    expect(message).toContain('OPENAI_API_KEY')
    expect(message).toContain('DOCS_TOKEN')
    expect(message).not.toContain('ANTHROPIC_API_KEY')
    expect(details.join('\n')).toMatch(/agents\.support\.providers\[0\]\.key/)
  })

  it('stores a literal key as a secret named after the agent and provider; secret_ref has no value', async () => {
    const p = await project(`
[agents.support]
name = "Support"
dir = "./agents/support"

[[agents.support.providers]]
id = "openai"
model = "gpt-4o-mini"
key = "sk-literal"

[[agents.support.providers]]
id = "groq"
model = "llama"
secret_ref = "TEAM_GROQ_KEY"

[[agents.support.providers]]
id = "ollama"
model = "llama3.2"
`)
    const state = await buildDesiredState(p, {})
    expect(state.agents[0]!.providers.map((x) => x.key)).toEqual([
      {kind: 'secret', name: 'AGENT_SUPPORT_OPENAI_KEY'},
      {kind: 'secret', name: 'TEAM_GROQ_KEY'},
      {kind: 'none'},
    ])
    expect(state.secrets).toEqual({AGENT_SUPPORT_OPENAI_KEY: 'sk-literal'})
  })
})

describe('projectIdOf', () => {
  it('uses project.id, else the slugged directory name', () => {
    expect(projectIdOf({root: '/x/My Desk', config: {agents: {}, project: {id: 'desk-123456'}}})).toEqual({id: 'desk-123456', declared: true})
    expect(projectIdOf({root: '/x/My Desk', config: {agents: {}}})).toEqual({id: 'my-desk', declared: false})
  })

  it('names literal secrets in upper snake case', () => {
    expect(literalSecretName('agent', 'help-desk', 'z-ai', 'key')).toBe('AGENT_HELP_DESK_Z_AI_KEY')
  })
})

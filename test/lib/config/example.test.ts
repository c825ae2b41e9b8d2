import {describe, expect, it} from 'vitest'

import {loadProject, validateProject} from '../../../src/lib/config/index.js'
import {tempProject} from './helpers.js'

/** A complete lobu.toml with every kind of key (the project's first reference example; docs/lobu-toml.md has its own, checked in docs.test.ts). */
export const SPEC_EXAMPLE = `[project]
id = "support-desk-3f9a2c"       # written by \`lobu init\`; owns the agents this project applies

[gateway]
port = 8787                      # local gateway port (default 8787)

[agents.support]
name = "Support"
description = "Answers product questions"
dir = "./agents/support"         # IDENTITY.md, SOUL.md, USER.md, skills/

[[agents.support.providers]]
id = "openai"
model = "gpt-4o-mini"
key = "$OPENAI_API_KEY"          # \`$NAME\` reads the environment / .env; a literal is allowed but warned about

[[agents.support.providers]]     # fallback, tried in order
id = "anthropic"
model = "claude-sonnet-4-5"
key = "$ANTHROPIC_API_KEY"

[agents.support.skills.mcp.docs]
type = "streamable-http"
url = "https://mcp.example.com/mcp"
oauth = { auth_url = "https://example.com/oauth/authorize", token_url = "https://example.com/oauth/token", client_id = "lobu", scopes = ["read"] }

[agents.support.skills.mcp.files]
type = "stdio"
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "./docs"]

[agents.support.network]
allowed = ["api.openai.com", ".example.com"]

[agents.support.tools]
pre_approved = ["/mcp/docs/tools/*"]
`

describe('a complete example lobu.toml', () => {
  it('validates, with the missing keys as the only warnings', async () => {
    const root = await tempProject({'agents/support/': '', 'lobu.toml': SPEC_EXAMPLE})
    const {error, report} = await validateProject({cwd: root, env: {}})
    expect(error).toBeUndefined()
    expect(report).toMatchObject({agents: ['support'], errors: [], file: 'lobu.toml', valid: true})
    expect(report.warnings.map((w) => `${w.line}:${w.col} ${w.path}`)).toEqual([
      '15:7 agents.support.providers[0].key',
      '20:7 agents.support.providers[1].key',
    ])
  })

  it('loads into the typed config', async () => {
    const root = await tempProject({'.env': 'OPENAI_API_KEY=sk-test\n', 'agents/support/': '', 'lobu.toml': SPEC_EXAMPLE})
    const project = await loadProject({cwd: root, env: {ANTHROPIC_API_KEY: 'sk-ant'}})
    expect(project.warnings).toEqual([])
    expect(project.config).toEqual({
      agents: {
        support: {
          description: 'Answers product questions',
          dir: './agents/support',
          name: 'Support',
          network: {allowed: ['api.openai.com', '.example.com']},
          providers: [
            {id: 'openai', key: '$OPENAI_API_KEY', model: 'gpt-4o-mini'},
            {id: 'anthropic', key: '$ANTHROPIC_API_KEY', model: 'claude-sonnet-4-5'},
          ],
          skills: {
            mcp: {
              docs: {
                auth_scope: 'user',
                oauth: {
                  auth_url: 'https://example.com/oauth/authorize',
                  client_id: 'lobu',
                  scopes: ['read'],
                  token_url: 'https://example.com/oauth/token',
                },
                type: 'streamable-http',
                url: 'https://mcp.example.com/mcp',
              },
              files: {
                args: ['-y', '@modelcontextprotocol/server-filesystem', './docs'],
                auth_scope: 'user',
                command: 'npx',
                type: 'stdio',
              },
            },
          },
          tools: {pre_approved: ['/mcp/docs/tools/*']},
        },
      },
      gateway: {port: 8787},
      project: {id: 'support-desk-3f9a2c'},
    })
    expect(project.env.OPENAI_API_KEY).toBe('sk-test')
    expect(project.env.ANTHROPIC_API_KEY).toBe('sk-ant')
  })
})

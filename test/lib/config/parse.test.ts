import {beforeAll, describe, expect, it} from 'vitest'

import {formatIssue} from '../../../src/lib/config/index.js'
import {AGENT, check, errorLines, errorsOf, tempProject, warningsOf} from './helpers.js'

let root: string
beforeAll(async () => {
  root = await tempProject({'agents/support/': '', 'a-file.txt': 'x'})
})

/** The errors of an agent `support` whose table body is `body`. */
const agentErrors = (body: string, extra = '') => errorLines(`[agents.support]\n${AGENT}${body}\n${extra}`, root)
const valid = (source: string) => {
  const result = check(source, root)
  expect(errorsOf(result.issues).map((i) => formatIssue(i))).toEqual([])
  expect(result.config).toBeDefined()
  return result.config!
}

describe('parseConfigSource: top level', () => {
  it('accepts an empty file (agents are optional)', () => {
    expect(valid('')).toEqual({agents: {}})
  })

  it('project.id: matches ^[a-z0-9][a-z0-9-]{2,62}$', () => {
    expect(valid('[project]\nid = "support-desk-3f9a2c"\n').project).toEqual({id: 'support-desk-3f9a2c'})
    expect(errorLines('[project]\nid = "Support Desk"\n')).toEqual([
      'lobu.toml:2:6  project.id  expected 3–63 lowercase letters, digits and hyphens, starting with a letter or digit, got "Support Desk"',
    ])
    expect(errorLines('[project]\nid = "ab"\n')).toHaveLength(1)
    expect(errorLines(`[project]\nid = "${'a'.repeat(64)}"\n`)).toHaveLength(1)
    expect(errorLines('[project]\nid = 5\n')).toEqual(['lobu.toml:2:6  project.id  expected a string, got an integer'])
  })

  it('gateway.port: an integer from 1 to 65535', () => {
    expect(valid('[gateway]\nport = 1\n').gateway).toEqual({port: 1})
    expect(valid('[gateway]\nport = 65535\n').gateway).toEqual({port: 65_535})
    expect(errorLines('[gateway]\nport = 0\n')).toEqual(['lobu.toml:2:8  gateway.port  expected an integer from 1 to 65535, got 0'])
    expect(errorLines('[gateway]\nport = 65536\n')).toEqual(['lobu.toml:2:8  gateway.port  expected an integer from 1 to 65535, got 65536'])
    expect(errorLines('[gateway]\nport = 80.5\n')).toEqual(['lobu.toml:2:8  gateway.port  expected an integer from 1 to 65535, got 80.5'])
    expect(errorLines('[gateway]\nport = 8080.0\n')).toEqual(['lobu.toml:2:8  gateway.port  expected an integer from 1 to 65535, got a float'])
    expect(errorLines('[gateway]\nport = "8787"\n')).toEqual(['lobu.toml:2:8  gateway.port  expected an integer, got a string'])
  })

  it('unknown keys are errors with the closest known key suggested', () => {
    expect(errorLines('[gateway]\nprot = 8787\n')).toEqual(['lobu.toml:2:1  gateway.prot  unknown key `prot`; did you mean `port`?'])
    expect(errorLines('[projet]\nid = "abc"\n')).toEqual(['lobu.toml:1:1  projet  unknown key `projet`; did you mean `project`?'])
  })

  it('an unknown key with nothing close lists the supported keys (not the compatibility ones)', () => {
    expect(agentErrors('colour = "red"')).toEqual([
      'lobu.toml:4:1  agents.support.colour  unknown key `colour`; expected one of `description`, `dir`, `name`, `network`, `providers`, `skills`, `tools`',
    ])
  })

  it('a provider setting written on the agent points to [[providers]]', () => {
    expect(agentErrors('model = "gpt-4o"')).toEqual([
      'lobu.toml:4:1  agents.support.model  unknown key `model`; provider settings go in a [[agents.support.providers]] table',
    ])
  })

  it('agents must be a table of tables', () => {
    expect(errorLines('agents = 5\n')).toEqual(['lobu.toml:1:10  agents  expected a table, got an integer'])
    expect(errorLines('agents.support = "x"\n')).toEqual(['lobu.toml:1:18  agents.support  expected a table, got a string'])
  })
})

describe('parseConfigSource: agents', () => {
  it('agent id: ^[a-z0-9][a-z0-9-]{0,62}$, reported at its header', () => {
    valid('[agents.a]\nname = "A"\ndir = "."\n[agents.support-2]\nname = "B"\ndir = "."\n')
    expect(errorLines('\n[agents.Support]\nname = "S"\ndir = "."\n')).toEqual([
      'lobu.toml:2:1  agents.Support  agent id must be lowercase letters, digits and hyphens, starting with a letter or digit (at most 63)',
    ])
    expect(errorLines('[agents.-x]\nname = "S"\ndir = "."\n')).toHaveLength(1)
    expect(errorLines(`[agents.${'a'.repeat(64)}]\nname = "S"\ndir = "."\n`)).toHaveLength(1)
  })

  it('keeps agents in file order', () => {
    const config = valid('[agents.zeta]\nname = "Z"\ndir = "."\n[agents.alpha]\nname = "A"\ndir = "."\n[agents.mid]\nname = "M"\ndir = "."\n')
    expect(Object.keys(config.agents)).toEqual(['zeta', 'alpha', 'mid'])
  })

  it('name: required, non-empty string', () => {
    expect(valid(`[agents.support]\n${AGENT}`).agents.support!.name).toBe('Support')
    expect(errorLines('[agents.support]\ndir = "."\n')).toEqual(['lobu.toml:1:1  agents.support.name  missing required key (expected a string)'])
    expect(errorLines('[agents.support]\nname = ""\ndir = "."\n')).toEqual(['lobu.toml:2:8  agents.support.name  expected a non-empty string'])
    expect(errorLines('[agents.support]\nname = 1\ndir = "."\n')).toEqual(['lobu.toml:2:8  agents.support.name  expected a string, got an integer'])
  })

  it('description: optional string', () => {
    expect(valid(`[agents.support]\n${AGENT}description = "Helps"\n`).agents.support!.description).toBe('Helps')
    expect(agentErrors('description = ["x"]')).toEqual(['lobu.toml:4:15  agents.support.description  expected a string, got an array'])
  })

  it('dir: required and must be an existing directory relative to the project root', () => {
    expect(valid('[agents.support]\nname = "S"\ndir = "./agents/support"\n').agents.support!.dir).toBe('./agents/support')
    expect(errorLines('[agents.support]\nname = "S"\n', root)).toEqual(['lobu.toml:1:1  agents.support.dir  missing required key (expected a string)'])
    const [missing] = errorLines('[agents.support]\nname = "S"\ndir = "./agents/nope"\n', root)
    expect(missing).toMatch(/^lobu\.toml:3:7 {2}agents\.support\.dir {2}directory "\.\/agents\/nope" does not exist \(looked for .*agents\/nope\)$/)
    expect(errorLines('[agents.support]\nname = "S"\ndir = "a-file.txt"\n', root)).toEqual([
      'lobu.toml:3:7  agents.support.dir  "a-file.txt" is not a directory',
    ])
  })
})

describe('parseConfigSource: providers', () => {
  it('catalog ids get the catalog default model; order is kept', () => {
    const config = valid(
      `[agents.support]\n${AGENT}[[agents.support.providers]]\nid = "anthropic"\n[[agents.support.providers]]\nid = "openrouter"\nmodel = "anthropic/claude-sonnet-4"\n`,
    )
    expect(config.agents.support!.providers).toEqual([
      {id: 'anthropic', model: 'claude-sonnet-4-5'},
      {id: 'openrouter', model: 'anthropic/claude-sonnet-4'},
    ])
  })

  it('providers may be absent or empty', () => {
    expect(valid(`[agents.support]\n${AGENT}`).agents.support!.providers).toEqual([])
    expect(valid(`[agents.support]\n${AGENT}providers = []\n`).agents.support!.providers).toEqual([])
  })

  it('id: outside the catalog needs base_url (with a did-you-mean for typos)', () => {
    expect(agentErrors('', '[[agents.support.providers]]\nid = "opneai"\n')).toEqual([
      'lobu.toml:6:6  agents.support.providers[0].id  unknown provider `opneai`; did you mean `openai`? (any other id needs `base_url`, an OpenAI-compatible endpoint)',
    ])
    const [line] = agentErrors('', '[[agents.support.providers]]\nid = "acme"\n')
    expect(line).toContain('unknown provider `acme`: expected one of anthropic, openai, gemini')
  })

  it('any id with base_url, but then model is required', () => {
    const config = valid(
      `[agents.support]\n${AGENT}[[agents.support.providers]]\nid = "acme"\nbase_url = "http://127.0.0.1:9999/v1"\nmodel = "m1"\n`,
    )
    expect(config.agents.support!.providers).toEqual([{base_url: 'http://127.0.0.1:9999/v1', id: 'acme', model: 'm1'}])
    expect(agentErrors('', '[[agents.support.providers]]\nid = "acme"\nbase_url = "http://127.0.0.1:9999/v1"\n')).toEqual([
      'lobu.toml:5:1  agents.support.providers[0].model  missing required key: provider `acme` is not in the catalog, so it needs a model',
    ])
  })

  it('model: a non-empty string', () => {
    expect(agentErrors('', '[[agents.support.providers]]\nid = "openai"\nmodel = 4\n')).toEqual([
      'lobu.toml:7:9  agents.support.providers[0].model  expected a string, got an integer',
    ])
    expect(agentErrors('', '[[agents.support.providers]]\nid = "openai"\nmodel = ""\n')).toEqual([
      'lobu.toml:7:9  agents.support.providers[0].model  expected a non-empty string',
    ])
  })

  it('at most one of key / secret_ref', () => {
    const config = valid(`[agents.support]\n${AGENT}[[agents.support.providers]]\nid = "openai"\nsecret_ref = "openai-prod"\n`)
    expect(config.agents.support!.providers[0]).toEqual({id: 'openai', model: 'gpt-4o-mini', secret_ref: 'openai-prod'})
    expect(agentErrors('', '[[agents.support.providers]]\nid = "openai"\nkey = "$OPENAI_API_KEY"\nsecret_ref = "s"\n')).toEqual([
      'lobu.toml:8:1  agents.support.providers[0].secret_ref  set only one of `key` and `secret_ref`',
    ])
  })

  it('base_url: an http(s) URL', () => {
    valid(`[agents.support]\n${AGENT}[[agents.support.providers]]\nid = "openai"\nbase_url = "https://proxy.example.com/v1"\n`)
    expect(agentErrors('', '[[agents.support.providers]]\nid = "openai"\nbase_url = "ftp://example.com"\n')).toEqual([
      'lobu.toml:7:12  agents.support.providers[0].base_url  expected an http(s) URL, got "ftp://example.com"',
    ])
    expect(agentErrors('', '[[agents.support.providers]]\nid = "openai"\nbase_url = "not a url"\n')).toHaveLength(1)
  })

  it('key: a $NAME reference is fine; a literal is allowed with a warning', () => {
    for (const key of ['$OPENAI_API_KEY', '${OPENAI_API_KEY}']) {
      const result = check(`[agents.support]\n${AGENT}[[agents.support.providers]]\nid = "openai"\nkey = "${key}"\n`, root)
      expect(result.issues).toEqual([])
    }
    const result = check(`[agents.support]\n${AGENT}[[agents.support.providers]]\nid = "openai"\nkey = "sk-live-123"\n`, root)
    expect(result.config).toBeDefined()
    expect(warningsOf(result.issues).map((i) => formatIssue(i))).toEqual([
      'lobu.toml:6:7  agents.support.providers[0].key  literal API key in lobu.toml: write "$OPENAI_API_KEY" and keep the value in .env',
    ])
  })

  it('key: something that looks like a reference but is not valid is an error', () => {
    expect(agentErrors('', '[[agents.support.providers]]\nid = "openai"\nkey = "$openai_key"\n')).toEqual([
      'lobu.toml:7:7  agents.support.providers[0].key  "$openai_key" is not a valid reference: write $NAME or ${NAME} with NAME in [A-Z_][A-Z0-9_]*',
    ])
  })

  it('unknown provider keys suggest the closest one', () => {
    expect(agentErrors('', '[[agents.support.providers]]\nid = "openai"\nmodle = "gpt-4o"\n')).toEqual([
      'lobu.toml:7:1  agents.support.providers[0].modle  unknown key `modle`; did you mean `model`?',
    ])
  })
})

describe('parseConfigSource: MCP servers', () => {
  const mcp = (body: string) => agentErrors('', `[agents.support.skills.mcp.docs]\n${body}\n`)

  it('type defaults: streamable-http with url, stdio with command; auth_scope defaults to user', () => {
    const config = valid(
      `[agents.support]\n${AGENT}[agents.support.skills.mcp.web]\nurl = "https://mcp.example.com/mcp"\n[agents.support.skills.mcp.fs]\ncommand = "npx"\nargs = ["-y", "server"]\nenv = { ROOT = "/tmp", TOKEN = "$FS_TOKEN" }\n`,
    )
    expect(config.agents.support!.skills!.mcp).toEqual({
      fs: {args: ['-y', 'server'], auth_scope: 'user', command: 'npx', env: {ROOT: '/tmp', TOKEN: '$FS_TOKEN'}, type: 'stdio'},
      web: {auth_scope: 'user', type: 'streamable-http', url: 'https://mcp.example.com/mcp'},
    })
  })

  it('type: one of streamable-http, sse, stdio', () => {
    valid(`[agents.support]\n${AGENT}[agents.support.skills.mcp.docs]\ntype = "sse"\nurl = "http://127.0.0.1:3000/sse"\n`)
    expect(mcp('type = "streamable_http"\nurl = "https://x.example.com"')).toEqual([
      'lobu.toml:6:8  agents.support.skills.mcp.docs.type  expected one of "streamable-http", "sse", "stdio", got "streamable_http"; did you mean "streamable-http"?',
    ])
  })

  it('url is required for http types and must be http(s); command for stdio', () => {
    expect(mcp('type = "sse"')).toEqual(['lobu.toml:5:1  agents.support.skills.mcp.docs.url  missing required key: a sse server needs a url'])
    expect(mcp('type = "stdio"')).toEqual([
      'lobu.toml:5:1  agents.support.skills.mcp.docs.command  missing required key: a stdio server needs a command',
    ])
    expect(mcp('url = "ws://x.example.com"')).toEqual([
      'lobu.toml:6:7  agents.support.skills.mcp.docs.url  expected an http(s) URL, got "ws://x.example.com"',
    ])
    expect(mcp('args = ["x"]')).toEqual([
      'lobu.toml:5:1  agents.support.skills.mcp.docs  expected `url` (a streamable-http or sse server) or `command` (a stdio server)',
    ])
  })

  it('transport-specific keys on the wrong transport are errors', () => {
    expect(mcp('url = "https://x.example.com"\ncommand = "npx"')).toEqual([
      'lobu.toml:7:1  agents.support.skills.mcp.docs.command  `command` only applies to stdio servers (this one is streamable-http)',
    ])
    expect(mcp('command = "npx"\nheaders = { A = "b" }')).toEqual([
      'lobu.toml:7:1  agents.support.skills.mcp.docs.headers  `headers` only applies to streamable-http and sse servers (this one is stdio)',
    ])
  })

  it('headers and env are free-form maps of strings', () => {
    valid(`[agents.support]\n${AGENT}[agents.support.skills.mcp.docs]\nurl = "https://x.example.com"\nheaders = { "X-Any-Header" = "v", Authorization = "$DOCS_TOKEN" }\n`)
    expect(mcp('url = "https://x.example.com"\nheaders = { A = 1 }')).toEqual([
      'lobu.toml:7:17  agents.support.skills.mcp.docs.headers.A  expected a string, got an integer',
    ])
  })

  it('oauth: {auth_url, token_url, client_id?, client_secret?, scopes?} with URLs', () => {
    const config = valid(
      `[agents.support]\n${AGENT}[agents.support.skills.mcp.docs]\nurl = "https://x.example.com"\noauth = { auth_url = "https://a.example.com/authorize", token_url = "https://a.example.com/token", client_id = "lobu", client_secret = "$DOCS_SECRET", scopes = ["read"] }\n`,
    )
    expect(config.agents.support!.skills!.mcp!.docs!.oauth).toEqual({
      auth_url: 'https://a.example.com/authorize',
      client_id: 'lobu',
      client_secret: '$DOCS_SECRET',
      scopes: ['read'],
      token_url: 'https://a.example.com/token',
    })
    expect(mcp('url = "https://x.example.com"\noauth = { auth_url = "nope", scope = ["read"] }')).toEqual([
      'lobu.toml:7:1  agents.support.skills.mcp.docs.oauth.token_url  missing required key (expected a string)',
      'lobu.toml:7:22  agents.support.skills.mcp.docs.oauth.auth_url  expected an http(s) URL, got "nope"',
      'lobu.toml:7:30  agents.support.skills.mcp.docs.oauth.scope  unknown key `scope`; did you mean `scopes`?',
    ])
  })

  it('auth_scope: user or channel', () => {
    const config = valid(`[agents.support]\n${AGENT}[agents.support.skills.mcp.docs]\nurl = "https://x.example.com"\nauth_scope = "channel"\n`)
    expect(config.agents.support!.skills!.mcp!.docs!.auth_scope).toBe('channel')
    expect(mcp('url = "https://x.example.com"\nauth_scope = "team"')).toEqual([
      'lobu.toml:7:14  agents.support.skills.mcp.docs.auth_scope  expected one of "user", "channel", got "team"',
    ])
  })
})

describe('parseConfigSource: MCP timeout_ms', () => {
  const mcp = (body: string) => agentErrors('', `[agents.support.skills.mcp.docs]\n${body}\n`)
  it('is a positive integer of milliseconds per tool call', () => {
    const config = valid(`[agents.support]\n${AGENT}[agents.support.skills.mcp.docs]\nurl = "https://x.example.com"\ntimeout_ms = 5000\n`)
    expect(config.agents.support!.skills!.mcp!.docs!.timeout_ms).toBe(5000)
    expect(mcp('url = "https://x.example.com"\ntimeout_ms = 0')).toHaveLength(1)
    expect(mcp('url = "https://x.example.com"\ntimeout_ms = "5s"')).toHaveLength(1)
  })
})

describe('parseConfigSource: network and tools', () => {
  it('network.allowed / denied: domain patterns, a leading dot for subdomains', () => {
    const config = valid(`[agents.support]\n${AGENT}[agents.support.network]\nallowed = ["api.openai.com", ".example.com", "localhost"]\ndenied = ["evil.example.com"]\n`)
    expect(config.agents.support!.network).toEqual({allowed: ['api.openai.com', '.example.com', 'localhost'], denied: ['evil.example.com']})
    expect(agentErrors('network.allowed = ["https://api.openai.com", "*.example.com"]\nnetwork.denied = "x.com"')).toEqual([
      'lobu.toml:4:20  agents.support.network.allowed[0]  expected a domain like "api.example.com" or ".example.com" (any subdomain), got "https://api.openai.com"',
      'lobu.toml:4:46  agents.support.network.allowed[1]  wildcards are written with a leading dot: use ".example.com" for any subdomain of example.com',
      'lobu.toml:5:18  agents.support.network.denied  expected an array, got a string',
    ])
  })

  it('tools.pre_approved: /mcp/<id>/tools/<name|*> naming an MCP server of the same agent', () => {
    const config = valid(
      `[agents.support]\n${AGENT}[agents.support.skills.mcp.docs]\nurl = "https://x.example.com"\n[agents.support.tools]\npre_approved = ["/mcp/docs/tools/*", "/mcp/docs/tools/search"]\n`,
    )
    expect(config.agents.support!.tools).toEqual({pre_approved: ['/mcp/docs/tools/*', '/mcp/docs/tools/search']})
    expect(
      agentErrors(
        'tools.pre_approved = ["/mcp/dcos/tools/*", "/mcp/other/tools/x", "docs/search"]',
        '[agents.support.skills.mcp.docs]\nurl = "https://x.example.com"\n',
      ),
    ).toEqual([
      'lobu.toml:4:23  agents.support.tools.pre_approved[0]  `dcos` is not an MCP server of agent `support`; did you mean `docs`?',
      'lobu.toml:4:44  agents.support.tools.pre_approved[1]  `other` is not an MCP server of agent `support` (it has: docs)',
      'lobu.toml:4:66  agents.support.tools.pre_approved[2]  expected "/mcp/<server>/tools/<tool>" or "/mcp/<server>/tools/*", got "docs/search"',
    ])
  })

  it('tools.pre_approved: a server of another agent does not count', () => {
    const source = `[agents.support]\n${AGENT}tools.pre_approved = ["/mcp/docs/tools/*"]\n[agents.other]\nname = "O"\ndir = "."\n[agents.other.skills.mcp.docs]\nurl = "https://x.example.com"\n`
    expect(errorLines(source, root)).toEqual([
      'lobu.toml:4:23  agents.support.tools.pre_approved[0]  `docs` is not an MCP server of agent `support` (it declares none under skills.mcp)',
    ])
  })

  it('tools.allowed / denied: arrays of strings', () => {
    const config = valid(`[agents.support]\n${AGENT}[agents.support.tools]\nallowed = ["search*"]\ndenied = ["delete_*"]\n`)
    expect(config.agents.support!.tools).toEqual({allowed: ['search*'], denied: ['delete_*']})
    expect(agentErrors('tools.allowed = [1]\ntools.denied = {}')).toEqual([
      'lobu.toml:4:18  agents.support.tools.allowed[0]  expected a string, got an integer',
      'lobu.toml:5:16  agents.support.tools.denied  expected an array, got a table',
    ])
  })
})

describe('parseConfigSource: positions and completeness', () => {
  it('reports every error of the file at once, in source order', () => {
    const source = [
      '[gateway]', // 1
      'port = "x"', // 2
      '[agents.Bad]', // 3
      'name = "B"', // 4
      'dir = "."', // 5
      '[agents.support]', // 6
      'name = 3', // 7
      'dir = "."', // 8
      'providers = [{ id = "openai", model = 1 }]', // 9
      'tools.pre_approved = ["x"]', // 10
      '[agents.support.skills.mcp.docs]', // 11
      'type = "stdio"', // 12
    ].join('\n')
    expect(errorLines(source, root)).toEqual([
      'lobu.toml:2:8  gateway.port  expected an integer, got a string',
      'lobu.toml:3:1  agents.Bad  agent id must be lowercase letters, digits and hyphens, starting with a letter or digit (at most 63)',
      'lobu.toml:7:8  agents.support.name  expected a string, got an integer',
      'lobu.toml:9:39  agents.support.providers[0].model  expected a string, got an integer',
      'lobu.toml:10:23  agents.support.tools.pre_approved[0]  expected "/mcp/<server>/tools/<tool>" or "/mcp/<server>/tools/*", got "x"',
      'lobu.toml:11:1  agents.support.skills.mcp.docs.command  missing required key: a stdio server needs a command',
    ])
  })

  it('positions in [[arrays of tables]] count elements of the right array', () => {
    const source = [
      '[agents.support]', // 1
      AGENT.trim(), // 2-3
      '[[agents.support.providers]]', // 4
      'id = "openai"', // 5
      '[agents.docs]', // 6
      AGENT.trim(), // 7-8
      '[[agents.docs.providers]]', // 9
      'id = "openai"', // 10
      '[[agents.support.providers]]', // 11
      'id = "anthropic"', // 12
      '    model = 42', // 13
    ].join('\n')
    expect(errorLines(source, root)).toEqual(['lobu.toml:13:13  agents.support.providers[1].model  expected a string, got an integer'])
  })

  it('positions of dotted keys and inline tables', () => {
    const source = [
      'agents.support.name = "S"', // 1
      'agents.support.dir = "."', // 2
      'agents.support.skills.mcp.docs = { url = "https://x.example.com", auth_scope = 1 }', // 3
      'agents.support.network = { allowed = ["ok.com"], denyed = [] }', // 4
    ].join('\n')
    expect(errorLines(source, root)).toEqual([
      'lobu.toml:3:80  agents.support.skills.mcp.docs.auth_scope  expected one of "user", "channel", got an integer',
      'lobu.toml:4:50  agents.support.network.denyed  unknown key `denyed`; did you mean `denied`?',
    ])
  })

  it('a quoted agent id is reported at its header with the quotes in the path', () => {
    expect(errorLines('[agents."my agent"]\nname = "x"\ndir = "."\n', root)).toEqual([
      'lobu.toml:1:1  agents."my agent"  agent id must be lowercase letters, digits and hyphens, starting with a letter or digit (at most 63)',
    ])
  })

  it('a TOML syntax error reports its own line and column', () => {
    const result = check('[agents.support]\nname = "S"\ndir = = "."\n', root)
    expect(result.config).toBeUndefined()
    expect(result.syntaxError).toBe(true)
    expect(result.issues.map((i) => formatIssue(i))).toEqual(['lobu.toml:3:7  TOML syntax error: invalid value'])
  })

  it('a duplicate key is a syntax error at the duplicate', () => {
    const result = check('[gateway]\nport = 1\nport = 2\n', root)
    expect(result.issues.map((i) => [i.line, i.col])).toEqual([[3, 1]])
  })
})

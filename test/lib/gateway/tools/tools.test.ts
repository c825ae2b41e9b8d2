/**
 * Agents that use tools, end to end on a real gateway: real MCP servers from npm (the reference
 * filesystem and memory servers), a probe server and a streamable-HTTP server of our own, and
 * the fake provider scripted to call tools in all three dialects. On PGlite and PostgreSQL.
 */
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {mintToken} from '../../../../src/lib/gateway/auth/token-service.js'
import {encryptSecret, keyedHash} from '../../../../src/lib/gateway/crypto/index.js'
import {oauthRepo} from '../../../../src/lib/gateway/store/repos/oauth.js'
import {MAX_RESULT_BYTES} from '../../../../src/lib/gateway/tools/results.js'
import {startFakeProvider, type FakeProvider, type FakeTurn} from '../../../support/fake-provider.js'
import {driverNames, startTestGateway, type TestGateway, type TestOrg} from '../../../support/gateway.js'
import {startMcpHttpServer, type McpHttpServer} from '../../../support/mcp/http-server.js'
import {isTerminal, openStream, type TestEvent} from '../sessions/sse-client.js'

const require = createRequire(import.meta.url)
const here = dirname(fileURLToPath(import.meta.url))
const FS_SERVER = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js')
const MEMORY_SERVER = require.resolve('@modelcontextprotocol/server-memory/dist/index.js')
const PROBE = join(here, '../../../support/mcp/probe-server.mjs')
const NODE = process.execPath
const KEYS = {openai: 'sk-openai-test-0123456789', anthropic: 'sk-ant-test-0123456789', gemini: 'AIza-gemini-test-0123456789'}
const DIALECTS = ['openai', 'anthropic', 'gemini'] as const
type Dialect = (typeof DIALECTS)[number]

const toolMessages = (turn: FakeTurn | undefined) => (turn?.messages ?? []).filter((m) => m.role === 'tool')

describe.each(driverNames())('agents with tools (%s)', (driver) => {
  let fake: FakeProvider
  let http: McpHttpServer
  let gw: TestGateway
  let orgB: TestOrg
  let project: string
  let memberToken: string
  const provider = (d: Dialect) =>
    ({
      openai: {id: 'openai', model: 'gpt-4o-mini', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'OPENAI_API_KEY'}},
      anthropic: {id: 'anthropic', model: 'claude-sonnet-4-5', baseUrl: fake.urls.anthropic, key: {kind: 'secret', name: 'ANTHROPIC_API_KEY'}},
      gemini: {id: 'gemini', model: 'gemini-2.5-flash', baseUrl: fake.urls.gemini, key: {kind: 'secret', name: 'GEMINI_API_KEY'}},
    })[d]
  const mcp = () => ({
    files: {type: 'stdio', command: NODE, args: [FS_SERVER, './docs']},
    probe: {type: 'stdio', command: NODE, args: [PROBE], env: {PROBE_TOKEN: '$PROBE_TOKEN', PLAIN: 'plain-value'}},
  })

  const putSecret = async (orgId: string, name: string, value: string) => {
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name, ciphertext: encryptSecret(key, value), keyedHash: keyedHash(key, value)})
  }
  const putAgent = async (id: string, body: Record<string, unknown>, token?: string) => {
    const res = await gw.api(`/api/v1/agents/${id}`, {method: 'PUT', body, token})
    expect(res.status, res.text).toBeLessThan(300)
  }
  const session = async (agentId: string, token?: string) => {
    const res = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId, forceNew: true, thread: `t-${randomBytes(4).toString('hex')}`}, token})
    expect(res.status, res.text).toBe(201)
    return res.body.sessionKey as string
  }
  /** One streamed turn; `onEvent` may act on events (e.g. decide approvals) while it runs. */
  const turn = async (key: string, content: string, opts: {dryRun?: boolean; token?: string; onEvent?: (e: TestEvent) => Promise<void> | void} = {}) => {
    const stream = await openStream(`${gw.url}/api/v1/sessions/${key}/messages`, {method: 'POST', body: {content, ...(opts.dryRun ? {dryRun: true} : {})}, token: opts.token ?? gw.adminToken})
    expect(stream.status).toBe(200)
    const events: TestEvent[] = []
    for (;;) {
      const e = await stream.next()
      if (!e) break
      events.push(e)
      await opts.onEvent?.(e)
      if (isTerminal(e)) break
    }
    return events
  }
  const of = (events: TestEvent[], name: string) => events.filter((e) => e.event === name).map((e) => e.data)
  const decide = (key: string, callId: string, decision: string, token?: string) =>
    gw.api(`/api/v1/sessions/${key}/approvals/${encodeURIComponent(callId)}`, {method: 'POST', body: {decision}, token})

  beforeAll(async () => {
    fake = await startFakeProvider()
    http = await startMcpHttpServer()
    project = mkdtempSync(join(tmpdir(), 'lobu-tools-'))
    mkdirSync(join(project, 'docs'))
    writeFileSync(join(project, 'docs', 'a.txt'), 'alpha')
    gw = await startTestGateway({
      driver,
      project: {id: 'tools-test', root: project},
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LANG: 'C.UTF-8',
        // Secrets of the gateway that no stdio server may see.
        OPENAI_API_KEY: 'sk-gateway-secret-openai',
        ENCRYPTION_KEY: 'gateway-secret-encryption-key',
        DATABASE_URL: 'postgres://secret@127.0.0.1:1/never',
        LOBU_ALLOW_STDIO_MCP: '1',
        LOBU_MAX_TOOL_ROUNDS: '4',
        LOBU_APPROVAL_TIMEOUT_MS: '1500',
        LOBU_PROVIDER_TIMEOUT_MS: '5000',
      },
    })
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id as string
    await putSecret(orgId, 'OPENAI_API_KEY', KEYS.openai)
    await putSecret(orgId, 'ANTHROPIC_API_KEY', KEYS.anthropic)
    await putSecret(orgId, 'GEMINI_API_KEY', KEYS.gemini)
    await putSecret(orgId, 'PROBE_TOKEN', 'probe-own-secret')
    await putSecret(orgId, 'PROBE_BEARER', 'Bearer probe-own-secret')
    for (const d of DIALECTS) await putAgent(`fs-${d}`, {providers: [provider(d)], mcp: mcp()})
    await putAgent('strict', {
      providers: [provider('openai')],
      mcp: mcp(),
      tools: {preApproved: ['/mcp/files/tools/write_file'], denied: ['/mcp/files/tools/move_file', '/mcp/probe/tools/*'], allowed: []},
    })
    await putAgent('broken', {
      providers: [provider('openai')],
      mcp: {
        files: {type: 'stdio', command: NODE, args: [FS_SERVER, './docs']},
        dead: {type: 'stdio', command: NODE, args: [PROBE, '--exit-at-start']},
        slow: {type: 'stdio', command: NODE, args: [PROBE], timeoutMs: 300},
      },
    })
    await putAgent('remote', {providers: [provider('anthropic')], mcp: {web: {type: 'streamable-http', url: http.url, headers: {authorization: '$PROBE_BEARER'}}}})
    await putAgent('fenced', {providers: [provider('openai')], mcp: {web: {type: 'streamable-http', url: http.url}}, network: {allowed: ['example.com'], denied: []}})
    await putAgent('memory', {
      providers: [provider('gemini')],
      mcp: {memory: {type: 'stdio', command: NODE, args: [MEMORY_SERVER], env: {MEMORY_FILE_PATH: '${LOBU_STATE_DIR}/memory.jsonl'}}},
      tools: {preApproved: ['/mcp/memory/tools/*'], allowed: [], denied: []},
    })
    orgB = await gw.createOrg()
    // A second user of the local org.
    const member = await gw.api('/api/v1/admin/orgs/local/members', {method: 'POST', body: {email: `m-${driver}@local.example`, name: 'Member', role: 'member'}})
    expect(member.status, member.text).toBeLessThan(300)
    memberToken = (await mintToken(gw.store, {orgId, userId: member.body.user.id, name: 't', scopes: ['chat', 'agents:read'], expiresAt: null})).token
  }, 60_000)
  afterAll(async () => {
    await gw?.close()
    await http?.close()
    await fake?.close()
    if (project) rmSync(project, {recursive: true, force: true})
  })
  beforeEach(() => fake.reset())

  it.each(DIALECTS)('%s: a read-only call runs without asking, its result goes back, the answer ends the turn', async (d) => {
    const key = await session(`fs-${d}`)
    fake.script({text: 'Looking.', toolCalls: [{name: 'files__list_directory', arguments: {path: join(project, 'docs')}}]}, (t) => `found: ${toolMessages(t)[0]?.content}`)
    const events = await turn(key, 'what is in docs/?')
    expect(of(events, 'tool_call')).toEqual([expect.objectContaining({name: 'files__list_directory', server: 'files', tool: 'list_directory'})])
    expect(of(events, 'approval_required')).toEqual([])
    const [result] = of(events, 'tool_result')
    expect(result).toMatchObject({ok: true, summary: '[FILE] a.txt'})
    expect(events.at(-1)!.event).toBe('done')
    expect(of(events, 'delta').map((x) => x.text).join('')).toContain('found: [FILE] a.txt')
    // Tools were offered with their schemas under <server>__<tool>.
    const offered = fake.requests[0]!.turn!.tools
    expect(offered.map((t) => t.name)).toContain('files__write_file')
    expect(offered.find((t) => t.name === 'files__read_text_file')?.parameters).toMatchObject({type: 'object'})
  })

  it.each(DIALECTS)('%s: a write waits for a decision; denied (or no decision) writes nothing and the model is told', async (d) => {
    const key = await session(`fs-${d}`)
    const target = join(project, 'docs', `denied-${d}.txt`)
    fake.script({toolCalls: [{name: 'files__write_file', arguments: {path: target, content: 'x'}}]}, (t) => `told: ${toolMessages(t)[0]?.content}`)
    const events = await turn(key, 'write it', {
      onEvent: async (e) => {
        if (e.event === 'approval_required') expect((await decide(key, e.data.callId, 'deny')).status).toBe(200)
      },
    })
    const [asked] = of(events, 'approval_required')
    expect(asked).toMatchObject({server: 'files', tool: 'write_file', arguments: expect.stringContaining('denied-')})
    expect(Date.parse(asked.expiresAt)).toBeGreaterThan(Date.now())
    expect(of(events, 'tool_result')[0]).toMatchObject({ok: false, skipped: 'denied'})
    expect(existsSync(target)).toBe(false)
    expect(of(events, 'delta').map((x) => x.text).join('')).toContain('did not allow')

    // No decision at all: denied when the wait ends (LOBU_APPROVAL_TIMEOUT_MS here).
    fake.script({toolCalls: [{name: 'files__write_file', arguments: {path: target, content: 'x'}}]}, 'ok')
    const silent = await turn(key, 'write it again')
    expect(of(silent, 'tool_result')[0]).toMatchObject({ok: false, skipped: 'denied', summary: expect.stringContaining('no decision')})
    expect(existsSync(target)).toBe(false)
    // A decision after the wait ended is refused.
    expect((await decide(key, of(silent, 'approval_required')[0].callId, 'once')).status).toBe(409)
  })

  it('approved once: written; a second decision is 409; another org or user gets the 403 of a missing session', async () => {
    const key = await session('fs-openai')
    const target = join(project, 'docs', 'once.txt')
    fake.script({toolCalls: [{name: 'files__write_file', arguments: {path: target, content: 'written once'}}]}, 'done')
    const statuses: Record<string, number> = {}
    const events = await turn(key, 'write', {
      onEvent: async (e) => {
        if (e.event !== 'approval_required') return
        const foreign = await decide(key, e.data.callId, 'once', orgB.token)
        const member = await decide(key, e.data.callId, 'once', memberToken)
        const missing = await decide(key, 'no-such-call', 'once')
        expect(foreign.body).toEqual(missing.body)
        statuses.foreign = foreign.status
        statuses.member = member.status
        statuses.missing = missing.status
        statuses.first = (await decide(key, e.data.callId, 'once')).status
        statuses.second = (await decide(key, e.data.callId, 'always')).status
      },
    })
    expect(statuses).toEqual({foreign: 403, member: 403, missing: 403, first: 200, second: 409})
    expect(of(events, 'tool_result')[0]).toMatchObject({ok: true})
    expect(readFileSync(target, 'utf8')).toBe('written once')
    // `once` leaves no grant: the next call asks again.
    const tools = await gw.api('/api/v1/agents/fs-openai/tools')
    expect(tools.body.servers.find((s: any) => s.id === 'files').tools.find((t: any) => t.name === 'write_file').status).toBe('needs-approval')
  })

  it('1h stores a grant: the next call runs without asking; GET tools shows it; DELETE grants drops it', async () => {
    const key = await session('fs-anthropic')
    const target = join(project, 'docs', 'granted.txt')
    fake.script({toolCalls: [{name: 'files__write_file', arguments: {path: target, content: '1'}}]}, 'done')
    await turn(key, 'write', {onEvent: async (e) => void (e.event === 'approval_required' && (await decide(key, e.data.callId, '1h')))})
    fake.script({toolCalls: [{name: 'files__write_file', arguments: {path: target, content: '2'}}]}, 'done')
    const again = await turn(key, 'write again')
    expect(of(again, 'approval_required')).toEqual([])
    expect(readFileSync(target, 'utf8')).toBe('2')
    const view = await gw.api('/api/v1/agents/fs-anthropic/tools')
    const write = view.body.servers.find((s: any) => s.id === 'files').tools.find((t: any) => t.name === 'write_file')
    expect(write).toMatchObject({status: 'granted', readOnly: false})
    expect(Date.parse(write.grantExpiresAt) - Date.now()).toBeGreaterThan(50 * 60 * 1000)
    // Grants are per agent and user: another agent and another user still need approval.
    const other = await gw.api('/api/v1/agents/fs-openai/tools')
    expect(other.body.servers.find((s: any) => s.id === 'files').tools.find((t: any) => t.name === 'write_file').status).toBe('needs-approval')
    expect((await gw.api('/api/v1/agents/fs-anthropic/tools/grants?pattern=/mcp/files/tools/*', {method: 'DELETE'})).body).toEqual({removed: 1})
    expect((await gw.api('/api/v1/agents/fs-anthropic/tools/grants?pattern=nonsense', {method: 'DELETE'})).status).toBe(400)
  })

  it('dry run: a write is skipped even when pre-approved; read-only calls still run; history kept', async () => {
    const key = await session('strict')
    const target = join(project, 'docs', 'dry.txt')
    fake.script(
      {toolCalls: [{name: 'files__write_file', arguments: {path: target, content: 'x'}}, {name: 'files__read_text_file', arguments: {path: join(project, 'docs', 'a.txt')}}]},
      (t) => `results: ${toolMessages(t).map((m) => m.content).join(' | ')}`,
    )
    const events = await turn(key, 'try', {dryRun: true})
    const results = of(events, 'tool_result')
    expect(results[0]).toMatchObject({ok: false, skipped: 'dry_run', summary: 'skipped: dry run'})
    expect(results[1]).toMatchObject({ok: true, summary: 'alpha'})
    expect(existsSync(target)).toBe(false)
    const history = await gw.api(`/api/v1/sessions/${key}`)
    expect(history.body.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant'])
  })

  it('pre-approved runs without asking; denied tools are never offered', async () => {
    const key = await session('strict')
    const target = join(project, 'docs', 'pre.txt')
    fake.script({toolCalls: [{name: 'files__write_file', arguments: {path: target, content: 'pre'}}]}, 'done')
    const events = await turn(key, 'write')
    expect(of(events, 'approval_required')).toEqual([])
    expect(readFileSync(target, 'utf8')).toBe('pre')
    const offered = fake.requests[0]!.turn!.tools.map((t) => t.name)
    expect(offered).not.toContain('files__move_file')
    expect(offered.some((n) => n.startsWith('probe__'))).toBe(false)
    const view = await gw.api('/api/v1/agents/strict/tools')
    const files = view.body.servers.find((s: any) => s.id === 'files')
    expect(files.tools.find((t: any) => t.name === 'move_file').status).toBe('denied')
    expect(files.tools.find((t: any) => t.name === 'write_file').status).toBe('pre-approved')
    expect(files.tools.find((t: any) => t.name === 'read_text_file').status).toBe('read-only')
    // A model calling a denied tool anyway gets a denial, nothing moves.
    fake.script({toolCalls: [{name: 'files__move_file', arguments: {source: target, destination: `${target}.moved`}}]}, 'ok')
    const denied = await turn(key, 'move')
    expect(of(denied, 'tool_result')[0]).toMatchObject({ok: false})
    expect(existsSync(target)).toBe(true)
  })

  it.each(DIALECTS)('%s: parallel calls in one round (results in call order), then a second round, then a later turn with a valid history', async (d) => {
    const key = await session(`fs-${d}`)
    const docs = join(project, 'docs')
    fake.script(
      {text: 'Two at once.', toolCalls: [{name: 'probe__pid', arguments: {}}, {name: 'files__read_text_file', arguments: {path: join(docs, 'a.txt')}}, {name: 'files__get_file_info', arguments: {path: join(docs, 'a.txt')}}]},
      {toolCalls: [{name: 'files__list_directory', arguments: {path: docs}}]},
      (t) => `saw ${toolMessages(t).length} results`,
    )
    const events = await turn(key, 'go')
    expect(events.at(-1)!.event).toBe('done')
    expect(of(events, 'tool_call')).toHaveLength(4)
    const second = fake.requests[1]!.turn!
    expect(toolMessages(second).map((m) => m.content.slice(0, 5))).toEqual([expect.stringMatching(/^\d/), 'alpha', expect.any(String)])
    expect(of(events, 'delta').map((x) => x.text).join('')).toContain('saw 4 results')
    // The next turn sends the whole tool history (the fake refuses a broken pairing).
    fake.script('fine')
    const later = await turn(key, 'and now?')
    expect(later.at(-1)!.event).toBe('done')
    const sent = fake.requests.at(-1)!.turn!
    expect(toolMessages(sent)).toHaveLength(4)
    expect(sent.messages.filter((m) => m.role === 'assistant' && m.toolCalls?.length)).toHaveLength(2)
  })

  it('a provider switch keeps a valid history (openai tool turn, then anthropic and gemini)', async () => {
    await putAgent('switch', {providers: [provider('openai')], mcp: mcp()})
    const key = await session('switch')
    fake.script({toolCalls: [{name: 'probe__pid', arguments: {}}]}, 'one')
    await turn(key, 'first')
    for (const d of ['anthropic', 'gemini'] as const) {
      await putAgent('switch', {providers: [provider(d)], mcp: mcp()})
      fake.script(`on ${d}`)
      const events = await turn(key, `on ${d}?`)
      expect(events.at(-1)!.event, JSON.stringify(events.at(-1)!.data)).toBe('done')
      expect(toolMessages(fake.requests.at(-1)!.turn)).toHaveLength(1)
    }
  })

  it('the round limit ends the turn with TOOL_LOOP_LIMIT and keeps the text so far', async () => {
    const key = await session('fs-openai')
    fake.reply({text: 'again ', toolCalls: [{name: 'probe__pid', arguments: {}}]})
    const events = await turn(key, 'loop')
    const last = events.at(-1)!
    expect(last.event).toBe('error')
    expect(last.data.code).toBe('TOOL_LOOP_LIMIT')
    expect(fake.requests).toHaveLength(4)
    const history = await gw.api(`/api/v1/sessions/${key}`)
    expect(history.body.messages.filter((m: any) => m.role === 'tool')).toHaveLength(4)
    // The session goes on with a valid history.
    fake.reset()
    fake.script('after the loop')
    expect((await turn(key, 'stop')).at(-1)!.event).toBe('done')
  })

  it('malformed arguments and unknown tools are error results, not the end of the turn', async () => {
    const key = await session('fs-anthropic')
    fake.script({toolCalls: [{name: 'files__read_text_file', arguments: '{"path": '}, {name: 'nope__nothing', arguments: {}}]}, (t) => toolMessages(t).map((m) => m.content).join(' || '))
    const events = await turn(key, 'bad')
    expect(of(events, 'tool_result').map((r) => r.ok)).toEqual([false, false])
    const text = of(events, 'delta').map((x) => x.text).join('')
    expect(text).toContain('not valid JSON')
    expect(text).toContain('no tool named')
  })

  it('a server that exits at start is reported by name, its siblings work; a hanging call times out', async () => {
    const logs: string[] = []
    void logs
    const key = await session('broken')
    fake.script({toolCalls: [{name: 'slow__hang', arguments: {}}, {name: 'files__list_directory', arguments: {path: join(project, 'docs')}}]}, (t) => toolMessages(t).map((m) => m.content).join(' || '))
    const events = await turn(key, 'go')
    const results = of(events, 'tool_result')
    expect(results[0]).toMatchObject({callId: 'unavailable:dead', ok: false, summary: expect.stringContaining('"dead"')})
    expect(results.find((r) => r.callId !== 'unavailable:dead' && r.ok)).toBeDefined()
    const text = of(events, 'delta').map((x) => x.text).join('')
    expect(text).toMatch(/slow\.hang failed: .*time/i)
    expect(text).toContain('a.txt')
    expect(events.at(-1)!.event).toBe('done')
    const view = await gw.api('/api/v1/agents/broken/tools')
    expect(view.body.servers.find((s: any) => s.id === 'dead')).toMatchObject({state: 'failed', error: expect.stringContaining('refusing to start')})
  })

  it('a stdio server gets PATH, HOME, LANG and its own env only, and starts in the project directory', async () => {
    const key = await session('fs-openai')
    fake.script({toolCalls: [{name: 'probe__env', arguments: {}}]}, 'ok')
    const events = await turn(key, 'env?')
    expect(events.at(-1)!.event).toBe('done')
    const dumped = JSON.parse(toolMessages(fake.requests[1]!.turn)[0]!.content) as Record<string, string>
    expect(Object.keys(dumped).sort()).toEqual(['HOME', 'LANG', 'PATH', 'PLAIN', 'PROBE_TOKEN'])
    expect(dumped.PROBE_TOKEN).toBe('probe-own-secret')
    expect(JSON.stringify(dumped)).not.toMatch(/gateway-secret|sk-openai|DATABASE_URL|ENCRYPTION_KEY/)
    // `./docs` in args is the project's docs/.
    fake.script({toolCalls: [{name: 'files__list_allowed_directories', arguments: {}}]}, 'ok')
    await turn(key, 'dirs?')
    expect(toolMessages(fake.requests.at(-1)!.turn).at(-1)!.content).toContain(join(project, 'docs'))
  })

  it('connections are per user: user A stores a memory, user B sees none', async () => {
    const a = await session('memory')
    fake.script({toolCalls: [{name: 'memory__create_entities', arguments: {entities: [{name: 'Ada', entityType: 'person', observations: ['likes tea']}]}}]}, 'stored')
    expect((await turn(a, 'remember Ada')).at(-1)!.event).toBe('done')
    fake.script({toolCalls: [{name: 'memory__read_graph', arguments: {}}]}, 'read')
    await turn(a, 'what do you know?')
    expect(toolMessages(fake.requests.at(-1)!.turn)[0]!.content).toContain('Ada')
    const b = await session('memory', memberToken)
    fake.script({toolCalls: [{name: 'memory__read_graph', arguments: {}}]}, 'read')
    expect((await turn(b, 'what do you know?', {token: memberToken})).at(-1)!.event).toBe('done')
    expect(toolMessages(fake.requests.at(-1)!.turn)[0]!.content).not.toContain('Ada')
  })

  it('streamable HTTP: headers with $NAME secrets, a huge result is cut and its summary holds no escape', async () => {
    const key = await session('remote')
    fake.script({toolCalls: [{name: 'web__whoami', arguments: {}}, {name: 'web__huge', arguments: {kb: 5 * 1024}}]}, 'ok')
    const events = await turn(key, 'go')
    expect(events.at(-1)!.event).toBe('done')
    const [who, huge] = toolMessages(fake.requests[1]!.turn)
    expect(who!.content).toBe('Bearer probe-own-secret')
    expect(Buffer.byteLength(huge!.content)).toBeLessThan(MAX_RESULT_BYTES + 200)
    expect(huge!.content).toMatch(/\[output cut: \d+ bytes/)
    const summary = of(events, 'tool_result')[1].summary as string
    expect(summary.length).toBeLessThanOrEqual(500)
    expect(summary).not.toMatch(/\u001b/)
  })

  it('an HTTP server with an oauth table uses the caller\'s grant as Bearer; without one: failed with the connect hint', async () => {
    const oauth = {authUrl: 'https://auth.example.com/authorize', tokenUrl: 'https://auth.example.com/token', clientId: 'lobu'}
    await putAgent('oauthed', {providers: [provider('openai')], mcp: {web: {type: 'streamable-http', url: http.url, oauth}}})
    const before = await gw.api('/api/v1/agents/oauthed/tools')
    expect(before.body.servers[0]).toMatchObject({id: 'web', state: 'failed', hint: 'lobu oauth connect web'})
    const key = await session('oauthed')
    fake.script('no tools')
    const events = await turn(key, 'hi')
    expect(of(events, 'tool_result')[0]).toMatchObject({callId: 'unavailable:web', ok: false, summary: expect.stringContaining('lobu oauth connect web')})
    const who = await gw.api('/api/v1/whoami')
    const grantKey = {orgId: who.body.org.id, userId: who.body.user.id, agentId: 'oauthed', kind: 'mcp' as const, target: 'web'}
    const aad = `oauth-grant/${grantKey.orgId}/${grantKey.userId}/${grantKey.agentId}/${grantKey.kind}/${grantKey.target}/access`
    await oauthRepo(gw.store.sql).upsertGrant({...grantKey, accessToken: encryptSecret(gw.gateway.installKey, 'user-access-token', aad), refreshToken: null, scopes: [], expiresAt: null})
    fake.script({toolCalls: [{name: 'web__whoami', arguments: {}}]}, 'ok')
    await turn(key, 'who?')
    expect(toolMessages(fake.requests.at(-1)!.turn).at(-1)!.content).toBe('Bearer user-access-token')
    // Refused by the server (401): an error result with the same hint.
    http.failWith = 401
    try {
      fake.script({toolCalls: [{name: 'web__whoami', arguments: {}}]}, 'ok')
      const refused = await turn(key, 'who again?')
      expect(of(refused, 'tool_result').at(-1)).toMatchObject({ok: false, summary: expect.stringContaining('lobu oauth connect web')})
    } finally {
      http.failWith = undefined
    }
  })

  it('a server URL outside network.allowed is refused', async () => {
    const view = await gw.api('/api/v1/agents/fenced/tools')
    expect(view.body.servers[0]).toMatchObject({id: 'web', state: 'failed', error: expect.stringContaining('network')})
    expect(http.requests.filter((r) => r.authorization === undefined).length).toBe(0)
  })

  it('the OpenAI-compatible endpoint runs read-only tools, denies the rest in the result, refuses a request\'s own tools', async () => {
    const target = join(project, 'docs', 'compat.txt')
    fake.script(
      {toolCalls: [{name: 'files__list_directory', arguments: {path: join(project, 'docs')}}, {name: 'files__write_file', arguments: {path: target, content: 'x'}}]},
      (t) => toolMessages(t).map((m) => m.content).join(' || '),
    )
    const res = await gw.api('/v1/chat/completions', {method: 'POST', body: {model: 'fs-openai', messages: [{role: 'user', content: 'go'}]}})
    expect(res.status, res.text).toBe(200)
    const content = res.body.choices[0].message.content as string
    expect(content).toContain('a.txt')
    expect(content).toContain('did not allow')
    expect(existsSync(target)).toBe(false)
    const own = await gw.api('/v1/chat/completions', {method: 'POST', body: {model: 'fs-openai', messages: [{role: 'user', content: 'go'}], tools: [{type: 'function', function: {name: 'x'}}]}})
    expect(own.status).toBe(400)
    expect(own.body.error.message).toContain('MCP servers')
  })
})

import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer as createTcpServer, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {ChatInterrupted, chooseAgent, errorFromEvent, followTurn, humanRenderer, jsonRenderer, newThreadId, readPrompt, runChat, type ChatEvent} from '../../../src/lib/chat/index.js'
import {ensureLocalGateway, openLocalSession} from '../../../src/lib/chat/gateway.js'
import {EXIT, exitCodeOf} from '../../../src/lib/cli/exit.js'
import {AuthError, OperationError} from '../../../src/lib/core/errors.js'
import {ApiClient, type SseEvent} from '../../../src/lib/client/index.js'
import type {Project} from '../../../src/lib/config/index.js'
import {getLastThread, type ResolvedContext} from '../../../src/lib/context/index.js'
import {encryptSecret, keyedHash} from '../../../src/lib/gateway/crypto/index.js'
import {startFakeProvider, type FakeProvider} from '../../support/fake-provider.js'
import {startTestGateway, type TestGateway} from '../../support/gateway.js'
import {closedPort, json, startServer, type SeenRequest, type TestServer} from '../client/helpers.js'

const tty = (): NodeJS.ReadableStream & {isTTY?: boolean} => Object.assign(Readable.from([]), {isTTY: true})
const piped = (text: string): NodeJS.ReadableStream & {isTTY?: boolean} => Object.assign(Readable.from([Buffer.from(text)]), {isTTY: false})

describe('readPrompt', () => {
  it('takes the argument, or stdin for "-" or a piped stdin', async () => {
    expect(await readPrompt({arg: 'hi', stdin: piped('ignored')})).toBe('hi')
    expect(await readPrompt({arg: '-', stdin: piped('from stdin\n')})).toBe('from stdin')
    expect(await readPrompt({stdin: piped('line one\nline two\n')})).toBe('line one\nline two')
  })

  it('is a usage error without a prompt on a terminal, or when empty', async () => {
    await expect(readPrompt({stdin: tty()})).rejects.toMatchObject({kind: 'usage', code: 'PROMPT_REQUIRED'})
    await expect(readPrompt({stdin: piped('  \n')})).rejects.toMatchObject({kind: 'usage'})
    await expect(readPrompt({arg: '', stdin: tty()})).rejects.toMatchObject({kind: 'usage'})
  })
})

describe('agent and thread choice', () => {
  const project = {config: {agents: {support: {}, sales: {}}}} as unknown as Project
  it('--agent, else the first agent of lobu.toml on local, else the org default', () => {
    expect(chooseAgent('x', {name: 'local'}, project)).toBe('x')
    expect(chooseAgent(undefined, {name: 'local'}, project)).toBe('support')
    expect(chooseAgent(undefined, {name: 'prod'}, project)).toBeUndefined()
    expect(chooseAgent(undefined, {name: 'local'})).toBeUndefined()
  })
  it('one-shot thread ids are valid thread names and distinct', () => {
    const a = newThreadId()
    expect(a).toMatch(/^chat-\d{8}T\d{6}-[0-9a-f]{6}$/)
    expect(newThreadId()).not.toBe(a)
  })
})

describe('errorFromEvent', () => {
  it('NO_MODEL_CONFIGURED exits 4 with the snippet as details; other codes exit 1', () => {
    const e = errorFromEvent({code: 'NO_MODEL_CONFIGURED', message: 'no model for "a"\nSet X\n  [[agents.a.providers]]', hint: 'set X'})
    expect(exitCodeOf(e)).toBe(EXIT.noModel)
    expect(e.message).toBe('no model for "a" (NO_MODEL_CONFIGURED)')
    expect(e.details).toEqual(['Set X', '  [[agents.a.providers]]'])
    expect(e.hint).toBe('set X')
    const p = errorFromEvent({code: 'PROVIDER_AUTH', message: 'openai rejected the credentials (HTTP 401)'})
    expect(exitCodeOf(p)).toBe(EXIT.failed)
    expect(p.code).toBe('PROVIDER_AUTH')
    expect(p.message).toContain('PROVIDER_AUTH')
  })
})

describe('renderers', () => {
  const sink = () => {
    let text = ''
    return {write: (t: string) => void (text += t), get text() {
      return text
    }}
  }
  const ev = (event: string, data: Record<string, unknown>, id?: string): ChatEvent => ({event, data: {messageId: 'm', ...data}, ...(id ? {id} : {})})

  it('human: deltas raw to stdout, pause() ends the open line (before a tool line), the spinner stops at the first text, a final newline', () => {
    const out = sink()
    const err = sink()
    let spinning = true
    const r = humanRenderer({stdout: out, stderr: err, spinner: {stop: () => void (spinning = false)}})
    r.event(ev('turn', {provider: 'openai', model: 'm'}))
    expect(spinning).toBe(true)
    r.event(ev('delta', {text: 'Hel'}))
    expect(spinning).toBe(false)
    r.event(ev('delta', {text: 'lo'}))
    r.pause()
    r.pause()
    r.event(ev('delta', {text: 'done.\n'}))
    r.event(ev('done', {finishReason: 'stop', usage: {inputTokens: 1, outputTokens: 2}}))
    r.finish()
    expect(out.text).toBe('Hello\ndone.\n')
    expect(err.text).toBe('')
  })

  it('json: one object per event and nothing else', () => {
    const out = sink()
    const r = jsonRenderer(out)
    r.event(ev('turn', {}, '1'))
    r.note('not shown')
    r.event(ev('done', {finishReason: 'stop'}, '2'))
    const lines = out.text.trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(lines).toEqual([
      {id: '1', event: 'turn', data: {messageId: 'm'}},
      {id: '2', event: 'done', data: {messageId: 'm', finishReason: 'stop'}},
    ])
  })
})

/** A client whose streams are scripted: each call takes the next script. */
function scriptedClient(scripts: Array<(path: string, opts: {lastEventId?: string; signal?: AbortSignal}) => AsyncGenerator<SseEvent>>) {
  const calls: Array<{path: string; lastEventId?: string}> = []
  const client = {
    stream(p: string, opts: {lastEventId?: string; signal?: AbortSignal} = {}) {
      calls.push({path: p, lastEventId: opts.lastEventId})
      const script = scripts.shift()
      if (!script) throw new Error('no more scripts')
      return script(p, opts)
    },
  } as unknown as ApiClient
  return {client, calls}
}

const sse = (id: number, event: string, data: Record<string, unknown>): SseEvent => ({id: String(id), event, data: JSON.stringify(data)})
const dropped = () => new OperationError('the event stream was interrupted', {code: 'STREAM_INTERRUPTED'})

describe('followTurn', () => {
  it('resumes a dropped stream on /events with Last-Event-ID and shows only its own turn, once', async () => {
    const {client, calls} = scriptedClient([
      async function* () {
        yield sse(1, 'turn', {messageId: 'm1'})
        yield sse(2, 'delta', {messageId: 'm1', text: 'a'})
        throw dropped()
      },
      async function* () {
        yield sse(3, 'delta', {messageId: 'm1', text: 'b'})
        yield sse(4, 'turn', {messageId: 'other'})
        yield sse(5, 'delta', {messageId: 'other', text: 'NOT MINE'})
        yield sse(6, 'done', {messageId: 'm1', finishReason: 'stop'})
      },
    ])
    const seen: ChatEvent[] = []
    const reconnects: number[] = []
    const terminal = await followTurn({
      client,
      sessionKey: 'ses_x',
      content: 'hi',
      idleMs: 5_000,
      signal: new AbortController().signal,
      onEvent: (e) => void seen.push(e),
      onReconnect: (n) => reconnects.push(n),
    })
    expect(terminal.event).toBe('done')
    expect(seen.map((e) => e.id)).toEqual(['1', '2', '3', '6'])
    expect(calls).toEqual([
      {path: '/api/v1/sessions/ses_x/messages', lastEventId: undefined},
      {path: '/api/v1/sessions/ses_x/events', lastEventId: '2'},
    ])
    expect(reconnects).toEqual([1])
  })

  it('gives up after the reconnects fail, and when the stream drops before the turn started', async () => {
    const always = async function* (): AsyncGenerator<SseEvent> {
      throw dropped()
    }
    const first = async function* (): AsyncGenerator<SseEvent> {
      yield sse(1, 'turn', {messageId: 'm'})
      throw dropped()
    }
    const a = scriptedClient([first, always, always])
    await expect(
      followTurn({client: a.client, sessionKey: 's', content: 'x', idleMs: 5_000, signal: new AbortController().signal, onEvent: () => {}, maxReconnects: 2, reconnectDelayMs: () => 0}),
    ).rejects.toMatchObject({code: 'STREAM_INTERRUPTED', kind: 'failed'})
    expect(a.calls).toHaveLength(3)

    const b = scriptedClient([always])
    await expect(followTurn({client: b.client, sessionKey: 's', content: 'x', idleMs: 5_000, signal: new AbortController().signal, onEvent: () => {}})).rejects.toMatchObject({
      code: 'STREAM_INTERRUPTED',
    })
  })

  it('an idle stream fails with "no event for N s"; Ctrl-C is ChatInterrupted', async () => {
    const silent = async function* (_p: string, opts: {signal?: AbortSignal}): AsyncGenerator<SseEvent> {
      yield sse(1, 'turn', {messageId: 'm'})
      await new Promise((_, reject) => opts.signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), {name: 'AbortError'}))))
    }
    const a = scriptedClient([silent])
    await expect(followTurn({client: a.client, sessionKey: 's', content: 'x', idleMs: 1_000, signal: new AbortController().signal, onEvent: () => {}})).rejects.toMatchObject({
      code: 'IDLE_TIMEOUT',
      message: 'no event for 1 s',
      kind: 'failed',
    })
    const ctrlC = new AbortController()
    const b = scriptedClient([silent])
    const pending = followTurn({client: b.client, sessionKey: 's', content: 'x', idleMs: 60_000, signal: ctrlC.signal, onEvent: () => ctrlC.abort()})
    await expect(pending).rejects.toBeInstanceOf(ChatInterrupted)
  })
})

describe('runChat against a gateway', () => {
  let fake: FakeProvider
  let gw: TestGateway
  let configDir: string
  let ctx: ResolvedContext

  beforeAll(async () => {
    fake = await startFakeProvider()
    gw = await startTestGateway({env: {}, project: {id: 'other-project', root: '/elsewhere'}})
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name: 'K', ciphertext: encryptSecret(key, 'sk-1'), keyedHash: keyedHash(key, 'sk-1')})
    await gw.api('/api/v1/agents/support', {method: 'PUT', body: {providers: [{id: 'groq', model: 'llama-3.3-70b-versatile', baseUrl: fake.urls.openai, key: {kind: 'secret', name: 'K'}}]}})
    configDir = await mkdtemp(path.join(tmpdir(), 'lobu-chat-'))
    ctx = {name: 'local', url: gw.url, origin: gw.url, source: 'flag', builtin: false}
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
    await rm(configDir, {recursive: true, force: true})
  })

  const run = async (prompt: string, extra: {continue?: boolean; project?: Project} = {}) => {
    let out = ''
    let err = ''
    const result = await runChat({
      prompt,
      continue: extra.continue,
      timeoutSec: 30,
      boot: false,
      ctx,
      project: extra.project,
      client: async () => new ApiClient({baseUrl: gw.url, token: gw.adminToken}),
      signal: new AbortController().signal,
      version: 'test',
      env: {LOBU_CONFIG_DIR: configDir},
      output: {json: false, stdout: {write: (t) => void (out += t)}, stderr: {write: (t) => void (err += t)}},
    })
    return {result, out, err}
  }

  it('uses the project’s first agent on local, remembers the thread, and -C continues it', async () => {
    const project = {root: '/elsewhere', config: {project: {id: 'other-project'}, agents: {support: {}}}} as unknown as Project
    const first = await run('remember 42', {project})
    expect(first.out).toBe('echo: remember 42\n')
    expect(first.result.agentId).toBe('support')
    expect(first.err).toBe('')
    expect(getLastThread('local', 'support', {LOBU_CONFIG_DIR: configDir})).toBe(first.result.thread)

    const second = await run('and now?', {project, continue: true})
    expect(second.result.thread).toBe(first.result.thread)
    expect(second.result.sessionKey).toBe(first.result.sessionKey)
    expect(fake.requests.at(-1)!.body.messages.filter((m: any) => m.role === 'user').map((m: any) => m.content)).toEqual(['remember 42', 'and now?'])
  })

  it('a POST stream that drops mid-turn is resumed on /events: the turn keeps running, nothing is lost or repeated', async () => {
    fake.reply({chunks: Array.from({length: 8}, (_, i) => `p${i} `), delayMs: 300}) // outlasts the 1.5 s disconnect grace
    const real = new ApiClient({baseUrl: gw.url, token: gw.adminToken})
    const session = await real.post<{sessionKey: string}>('/api/v1/sessions', {agentId: 'support'})
    const paths: string[] = []
    const flaky = {
      async *stream(p: string, opts: Parameters<ApiClient['stream']>[1]) {
        paths.push(p)
        let n = 0
        for await (const ev of real.stream(p, opts)) {
          yield ev
          if (p.endsWith('/messages') && ++n === 3) throw new OperationError('the event stream was interrupted', {code: 'STREAM_INTERRUPTED'})
        }
      },
    } as unknown as ApiClient
    let text = ''
    const terminal = await followTurn({
      client: flaky,
      sessionKey: session.sessionKey,
      content: 'resume me',
      idleMs: 10_000,
      signal: new AbortController().signal,
      onEvent: (e) => {
        if (e.event === 'delta') text += String(e.data.text)
      },
    })
    expect(terminal.event).toBe('done')
    expect(text).toBe('p0 p1 p2 p3 p4 p5 p6 p7 ')
    expect(paths.map((p) => p.split('/').at(-1))).toEqual(['messages', 'events'])
  })

  it('an error event is thrown with its exit code: 4 for NO_MODEL_CONFIGURED; the thread is still remembered', async () => {
    const before = getLastThread('local', 'default', {LOBU_CONFIG_DIR: configDir})
    await expect(run('default agent has no model')).rejects.toMatchObject({kind: 'noModel', code: 'NO_MODEL_CONFIGURED'})
    const after = getLastThread('local', 'default', {LOBU_CONFIG_DIR: configDir})
    expect(after).toMatch(/^chat-/)
    expect(after).not.toBe(before)
  })

  it('a corrupt state.json fails before anything is sent (exit 2)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lobu-chat-state-'))
    await mkdir(dir, {recursive: true})
    await writeFile(path.join(dir, 'state.json'), '{not json')
    let clients = 0
    await expect(
      runChat({
        prompt: 'hi',
        timeoutSec: 30,
        boot: false,
        ctx,
        client: async () => {
          clients++
          return new ApiClient({baseUrl: gw.url, token: gw.adminToken})
        },
        signal: new AbortController().signal,
        version: 'test',
        env: {LOBU_CONFIG_DIR: dir},
        output: {json: false, stdout: {write: () => {}}, stderr: {write: () => {}}},
      }),
    ).rejects.toMatchObject({kind: 'usage', code: 'CONFIG_CORRUPT'})
    expect(clients).toBe(0)
    await rm(dir, {recursive: true, force: true})
  })

  it('--no-boot with nothing listening on the local URL: exit 1 with `lobu run`', async () => {
    const closed = {name: 'local', url: 'http://127.0.0.1:9', origin: 'http://127.0.0.1:9'}
    await expect(ensureLocalGateway({ctx: closed, boot: false, version: 't', note: () => {}, warn: () => {}})).rejects.toMatchObject({
      kind: 'failed',
      hint: expect.stringContaining('lobu run'),
    })
    // Another context is never probed nor booted.
    expect(await ensureLocalGateway({ctx: {name: 'prod', url: 'http://127.0.0.1:9'}, boot: true, version: 't', note: () => {}, warn: () => {}})).toEqual({booted: false})
  })
})

describe('openLocalSession: the first request of a local chat, with /health alongside', () => {
  let server: TestServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  const session = {sessionKey: 'ses_1', agentId: 'support', thread: 't'}
  const demo = {root: '/work/demo', config: {project: {id: 'demo'}, agents: {support: {}}}} as unknown as Project
  const base = (url: string, extra: Partial<Parameters<typeof openLocalSession>[0]> = {}) => {
    const warnings: string[] = []
    const fresh: boolean[] = []
    const opts = {
      ctx: {name: 'local', url},
      project: demo,
      boot: false,
      version: 't',
      note: () => {},
      warn: (line: string) => void warnings.push(line),
      client: async (isFresh?: boolean) => {
        fresh.push(Boolean(isFresh))
        return new ApiClient({baseUrl: url, token: 'lobu_pat_x', contextName: 'local'})
      },
      open: (client: ApiClient, signal: AbortSignal) => client.post<typeof session>('/api/v1/sessions', {thread: 't'}, {signal}),
      signal: new AbortController().signal,
      ...extra,
    }
    return {opts, warnings, fresh}
  }

  it('does not wait for /health before the request, and still refuses another project (exit 2, both named)', async () => {
    // /health answers only once the session request has arrived: waiting for /health first would never finish.
    let sessionSeen: () => void = () => {}
    const arrived = new Promise<void>((resolve) => (sessionSeen = resolve))
    server = await startServer(async (req: SeenRequest, res) => {
      if (req.url === '/health') {
        await arrived
        return json(res, 200, {ok: true, project: 'other-project'})
      }
      sessionSeen()
      json(res, 201, session)
    })
    const {opts} = base(server.url)
    await expect(openLocalSession(opts)).rejects.toMatchObject({kind: 'usage', code: 'OTHER_PROJECT', message: expect.stringContaining('serves project "other-project", not "demo"')})
    expect(server.seen.map((r) => `${r.method} ${r.url}`).sort()).toEqual(['GET /health', 'POST /api/v1/sessions'])
    expect(server.seen.find((r) => r.url === '/health')?.headers.authorization).toBeUndefined()
  })

  it('nothing listening, with a token and --no-boot: exit 1 with the `lobu run` hint', async () => {
    const port = await closedPort()
    const {opts} = base(`http://127.0.0.1:${port}`)
    await expect(openLocalSession(opts)).rejects.toMatchObject({kind: 'failed', code: 'GATEWAY_UNREACHABLE', hint: expect.stringContaining('lobu run')})
  })

  it('a gateway that accepts connections but never answers is treated as absent once /health times out', async () => {
    const sockets: Socket[] = []
    const tcp = createTcpServer((socket) => void sockets.push(socket))
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
    const {port} = tcp.address() as {port: number}
    try {
      const {opts} = base(`http://127.0.0.1:${port}`, {healthTimeoutMs: 200})
      await expect(openLocalSession(opts)).rejects.toMatchObject({kind: 'failed', message: `no gateway answers at http://127.0.0.1:${port}`})
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => tcp.close(() => resolve()))
    }
  })

  it('something that is not a Lobu gateway: NOT_A_GATEWAY, whatever the request answered', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, {'content-type': 'text/html'})
      res.end('<html>another app</html>')
    })
    const {opts} = base(server.url)
    await expect(openLocalSession(opts)).rejects.toMatchObject({kind: 'failed', code: 'NOT_A_GATEWAY'})
  })

  it('an error answer of a Lobu gateway is the error (not a boot)', async () => {
    server = await startServer((req, res) =>
      req.url === '/health' ? json(res, 200, {ok: true, project: 'demo'}) : json(res, 401, {error: {code: 'UNAUTHENTICATED', message: 'token revoked'}}),
    )
    const {opts, warnings} = base(server.url, {boot: true})
    await expect(openLocalSession(opts)).rejects.toMatchObject({kind: 'auth', message: 'token revoked'})
    expect(warnings).toEqual([])
  })

  it('without a token the check comes first, then a fresh client is asked for', async () => {
    server = await startServer((req, res) => (req.url === '/health' ? json(res, 200, {ok: true, project: 'demo'}) : json(res, 201, session)))
    let calls = 0
    const url = server.url
    const {opts, fresh} = base(url)
    const opened = await openLocalSession({
      ...opts,
      client: async (isFresh?: boolean) => {
        fresh.push(Boolean(isFresh))
        if (calls++ === 0) throw new AuthError('no token for context "local"', {code: 'NO_TOKEN'})
        return new ApiClient({baseUrl: url, token: 'lobu_pat_new', contextName: 'local'})
      },
    })
    expect(opened.result).toEqual(session)
    expect(fresh).toEqual([false, true])
    expect(server.seen.map((r) => r.url)).toEqual(['/health', '/api/v1/sessions'])
    expect(server.seen[1]?.headers.authorization).toBe('Bearer lobu_pat_new')
  })
})

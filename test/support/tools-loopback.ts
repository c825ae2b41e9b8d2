/**
 * A loopback HTTP server speaking the gateway's routes for tools, as the CLI sees them: sessions,
 * a turn streamed as SSE (scripted by the test, with tool_call / approval_required / tool_result
 * events), the approvals route, `GET /api/v1/agents/:id/tools` and
 * `DELETE /api/v1/agents/:id/tools/grants?pattern=`. It checks the bearer token like the gateway.
 */
import {type IncomingMessage, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

export type Decision = 'once' | '1h' | '24h' | 'always' | 'deny'

export interface SeenRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}

export interface TurnContext {
  /** The JSON body of POST …/messages. */
  body: {content?: string; dryRun?: boolean}
  /** Send an event of this turn (its messageId is added). */
  send(event: string, data: Record<string, unknown>): void
  /** Send approval_required for a call and wait for its decision (undefined when the client went away). */
  approval(call: {callId: string; server: string; tool: string; arguments: string}, expiresInMs?: number): Promise<Decision | undefined>
}

export type TurnScript = (turn: TurnContext) => Promise<void> | void

export interface ToolsLoopback {
  url: string
  token: string
  seen: SeenRequest[]
  /** Decisions received, in order. */
  decisions: Array<{sessionKey: string; callId: string; decision: Decision}>
  /** The script of the next turns (one per POST …/messages); default: a text answer. */
  turns: TurnScript[]
  /** `GET /api/v1/agents/:id/tools` answers, by agent id (others: 403 like an unknown agent). */
  tools: Record<string, unknown>
  /** Grants by agent id: `DELETE …/grants?pattern=` removes the matching ones. */
  grants: Record<string, string[]>
  close(): Promise<void>
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {'content-type': 'application/json'})
  res.end(JSON.stringify(body))
}

const forbidden = (res: ServerResponse) => json(res, 403, {error: {code: 'FORBIDDEN', message: 'forbidden'}})

/** Does a grant (`/mcp/s/tools/t`) match a pattern (`/mcp/s/tools/t` or `/mcp/s/tools/*`)? */
function matches(pattern: string, grant: string): boolean {
  return pattern.endsWith('/*') ? grant.startsWith(pattern.slice(0, -1)) : grant === pattern
}

export async function startToolsLoopback(options: {token?: string} = {}): Promise<ToolsLoopback> {
  const token = options.token ?? 'lobu_pat_loopback'
  const seen: SeenRequest[] = []
  const decisions: ToolsLoopback['decisions'] = []
  const waiting = new Map<string, {resolve: (d: Decision | undefined) => void; decided: boolean}>()
  let sessions = 0
  let messages = 0
  let eventId = 0

  const state: ToolsLoopback = {
    url: '',
    token,
    seen,
    decisions,
    turns: [],
    tools: {},
    grants: {},
    close: async () => {},
  }

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url ?? '/', 'http://loopback')
    seen.push({method: req.method ?? '', url: req.url ?? '', headers: req.headers, body})
    if (url.pathname === '/health') return json(res, 200, {ok: true, version: 'loopback', project: null})
    if (req.headers.authorization !== `Bearer ${token}`) return json(res, 401, {error: {code: 'UNAUTHENTICATED', message: 'bad token'}})
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent)
    const parsed = body ? (JSON.parse(body) as Record<string, unknown>) : {}

    // POST /api/v1/sessions
    if (req.method === 'POST' && url.pathname === '/api/v1/sessions') {
      sessions++
      return json(res, 201, {sessionKey: `ses_${sessions}`, agentId: parsed.agentId ?? 'default', thread: parsed.thread ?? 't', createdAt: new Date().toISOString()})
    }
    // POST /api/v1/sessions/:key/messages
    if (req.method === 'POST' && parts.length === 5 && parts[2] === 'sessions' && parts[4] === 'messages') {
      const sessionKey = parts[3]!
      const messageId = `msg_${++messages}`
      res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache'})
      let closed = false
      res.on('close', () => {
        closed = true
        for (const [key, w] of waiting) if (key.startsWith(`${sessionKey}/`) && !w.decided) w.resolve(undefined)
      })
      const send = (event: string, data: Record<string, unknown>) => {
        if (!closed) res.write(`id: ${++eventId}\nevent: ${event}\ndata: ${JSON.stringify({messageId, ...data})}\n\n`)
      }
      const turn: TurnContext = {
        body: parsed as TurnContext['body'],
        send,
        approval: (call, expiresInMs = 600_000) =>
          new Promise<Decision | undefined>((resolve) => {
            waiting.set(`${sessionKey}/${call.callId}`, {resolve, decided: false})
            send('approval_required', {...call, expiresAt: new Date(Date.now() + expiresInMs).toISOString()})
          }),
      }
      send('turn', {agentId: 'default', provider: 'fake', model: 'fake-1'})
      const script = state.turns.shift() ?? ((t: TurnContext) => t.send('delta', {text: `echo: ${String(t.body.content)}`}))
      try {
        await script(turn)
        send('done', {finishReason: 'stop', usage: {inputTokens: 1, outputTokens: 1}})
      } catch (error) {
        send('error', {code: 'TURN_FAILED', message: (error as Error).message})
      }
      return res.end()
    }
    // POST /api/v1/sessions/:key/approvals/:callId
    if (req.method === 'POST' && parts.length === 6 && parts[2] === 'sessions' && parts[4] === 'approvals') {
      const key = `${parts[3]}/${parts[5]}`
      const w = waiting.get(key)
      if (!w) return forbidden(res)
      if (w.decided) return json(res, 409, {error: {code: 'ALREADY_DECIDED', message: 'this call was already decided'}})
      const decision = parsed.decision as Decision
      if (!['once', '1h', '24h', 'always', 'deny'].includes(decision)) return json(res, 400, {error: {code: 'BAD_REQUEST', message: 'bad decision'}})
      w.decided = true
      decisions.push({sessionKey: parts[3]!, callId: parts[5]!, decision})
      w.resolve(decision)
      return json(res, 200, {callId: parts[5], decision})
    }
    // GET /api/v1/agents/:id/tools
    if (req.method === 'GET' && parts.length === 5 && parts[2] === 'agents' && parts[4] === 'tools') {
      const answer = state.tools[parts[3]!]
      return answer === undefined ? forbidden(res) : json(res, 200, answer)
    }
    // DELETE /api/v1/agents/:id/tools/grants?pattern=
    if (req.method === 'DELETE' && parts.length === 6 && parts[2] === 'agents' && parts[4] === 'tools' && parts[5] === 'grants') {
      const pattern = url.searchParams.get('pattern') ?? ''
      if (!/^\/mcp\/[^/]+\/tools\/[^/]+$/.test(pattern)) return json(res, 400, {error: {code: 'BAD_REQUEST', message: 'bad pattern'}})
      const grants = state.grants[parts[3]!] ?? []
      const kept = grants.filter((g) => !matches(pattern, g))
      state.grants[parts[3]!] = kept
      return json(res, 200, {removed: grants.length - kept.length})
    }
    json(res, 404, {error: {code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}`}})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return state
}

/** A turn that calls one tool: tool_call, then (when `approval`) approval_required and its decision, then tool_result. */
export function oneToolTurn(opts: {
  server?: string
  tool?: string
  arguments?: string
  callId?: string
  approval?: boolean
  /** The result when it runs (default: ok, 12 ms). */
  result?: Record<string, unknown>
  text?: string
}): TurnScript {
  const server = opts.server ?? 'files'
  const tool = opts.tool ?? 'write_file'
  const callId = opts.callId ?? 'call_1'
  const args = opts.arguments ?? '{"path":"a.txt","content":"hi"}'
  return async (t) => {
    t.send('tool_call', {callId, name: `${server}__${tool}`, server, tool, arguments: args})
    if (t.body.dryRun && opts.approval) {
      t.send('tool_result', {callId, ok: true, summary: 'skipped: dry run', durationMs: 0, skipped: 'dry_run'})
    } else {
      const decision = opts.approval ? await t.approval({callId, server, tool, arguments: args}) : 'once'
      if (decision === undefined) return
      if (decision === 'deny') t.send('tool_result', {callId, ok: false, summary: 'denied by the user', durationMs: 0, skipped: 'denied'})
      else t.send('tool_result', {callId, ok: true, summary: 'wrote a.txt', durationMs: 12, ...opts.result})
    }
    t.send('delta', {text: opts.text ?? 'done'})
  }
}

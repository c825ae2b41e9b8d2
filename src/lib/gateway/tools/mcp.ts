/**
 * MCP connections of the gateway (`skills.mcp` of an agent), with @modelcontextprotocol/sdk:
 *
 * - one connection per (org, agent, user, server): one user's tool state (open files, memory) is
 *   never visible to another, nor to another org;
 * - opened lazily, on the first turn (or `GET /agents/:id/tools`) that needs the agent's tools;
 *   `tools/list` once, again on `notifications/tools/list_changed`;
 * - closed after IDLE_MS without use, when the agent's server config changes, and at shutdown;
 * - a server that cannot be reached, or that dies, is reported (warning on the gateway log, an
 *   error result for the turn) and tried again on a later use, with a growing delay.
 *
 * stdio servers start in the project directory of the gateway, with PATH, HOME, LANG and their
 * own `env` only (docs/SECURITY.md), through the reaper (reaper.ts) so that none outlives the
 * gateway. HTTP servers (streamable-http, sse) get their `headers` and, with an `oauth` table,
 * the caller's grant as a Bearer token; their URL must pass the agent's `network` lists.
 */
import {createHash} from 'node:crypto'
import {mkdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {Client} from '@modelcontextprotocol/sdk/client/index.js'
import {SSEClientTransport} from '@modelcontextprotocol/sdk/client/sse.js'
import {StdioClientTransport} from '@modelcontextprotocol/sdk/client/stdio.js'
import {StreamableHTTPClientTransport} from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type {Transport} from '@modelcontextprotocol/sdk/shared/transport.js'

import {decryptSecret} from '../crypto/index.js'
import {egressRefusal, type EgressPolicy} from '../egress/index.js'
import type {Logger} from '../http/types.js'
import type {AgentRow, McpSpec, Store} from '../store/types.js'
import {networkRefusal} from './policy.js'
import {REAPER_SOURCE} from './reaper.js'

/** A connection unused this long is closed. */
export const IDLE_MS = 10 * 60 * 1000
/** The longest a connection (spawn or HTTP handshake) and its first `tools/list` may take. */
export const CONNECT_TIMEOUT_MS = 30_000
/** Default per-call timeout (`timeout_ms` of a server overrides it). */
export const CALL_TIMEOUT_MS = 60_000
/** Delay before the next try after a failed connection: 1 s, 2 s, 4 s … up to 60 s. */
const RETRY_BASE_MS = 1_000
const RETRY_MAX_MS = 60_000
/** The last bytes of a stdio server's stderr kept for error messages. */
const STDERR_TAIL = 2_000

/** In `args` and `env` values of a stdio server: a directory private to (org, agent, user, server). */
export const STATE_DIR_PLACEHOLDER = '${LOBU_STATE_DIR}'

/** The environment variables a stdio server inherits from the gateway (besides its own `env`). */
export const INHERITED_ENV = ['PATH', 'HOME', 'LANG'] as const

export interface McpTool {
  server: string
  /** The tool's own name on its server. */
  name: string
  description: string
  inputSchema: Record<string, unknown>
  readOnly: boolean
}

export interface ConnectionKey {
  orgId: string
  agentId: string
  userId: string
  server: string
}

/** Why an HTTP server's OAuth bearer token is missing (the user must `lobu oauth connect`). */
export class McpAuthError extends Error {}

/** A server that could not be used: its message names the server. */
export class McpServerError extends Error {
  constructor(
    readonly server: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message)
  }
}

export interface McpPoolOptions {
  store: Store
  installKey: Buffer
  log: Logger
  /** The gateway's environment: PATH, HOME and LANG are passed on to stdio servers. */
  env: NodeJS.ProcessEnv
  /** Where stdio servers start (the project directory of `lobu run`); default the process's cwd. */
  projectRoot?: string
  /** The caller's OAuth access token for an HTTP server with an `oauth` table. */
  bearer?: (key: ConnectionKey) => Promise<string>
  /**
   * The egress guard: on a team gateway an HTTP server's URL is tenant-set, so every request of
   * its transport goes through the guard's fetch (each address checked at connect time, each
   * redirect hop checked; docs/SECURITY.md, S27).
   */
  egress?: EgressPolicy
  idleMs?: number
  connectTimeoutMs?: number
  /** Transport factory override (tests, benchmarks). */
  now?: () => number
}

export interface ServerState {
  server: string
  type: McpSpec['type']
  state: 'connected' | 'failed'
  error?: string
  hint?: string
  tools: McpTool[]
}

function errorText(err: unknown): string {
  // undici's fetch wraps what the egress guard refused as "fetch failed": name the refusal.
  const refused = egressRefusal(err)
  if (refused) return refused.message
  return err instanceof Error ? err.message : String(err)
}

function specHash(spec: McpSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex')
}

function connectionId(key: ConnectionKey): string {
  return `${key.orgId}\u0000${key.agentId}\u0000${key.userId}\u0000${key.server}`
}

/** True when an error of the SDK means the server refused the credentials (HTTP 401). */
function isUnauthorized(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (err.name === 'UnauthorizedError') return true
  const code = (err as {code?: unknown}).code
  return code === 401 || /\b401\b/.test(err.message)
}

class Connection {
  client: Client | undefined
  transport: Transport | undefined
  tools: McpTool[] = []
  closed = false
  /** Set once connected and listed: a close after that means the server died. */
  connected = false
  lastUsed: number
  idleTimer: NodeJS.Timeout | undefined
  stderrTail = ''
  /** Set once the transport closed by itself (the server died). */
  died: string | undefined
  readonly ready: Promise<void>

  constructor(
    readonly pool: McpPool,
    readonly key: ConnectionKey,
    readonly spec: McpSpec,
    readonly hash: string,
    readonly agent: AgentRow,
  ) {
    this.lastUsed = pool.now()
    this.ready = this.open()
    this.ready.catch(() => {})
  }

  private async open(): Promise<void> {
    const transport = await this.pool.transportFor(this)
    this.transport = transport
    const client = new Client(
      {name: 'lobu-gateway', version: '1'},
      {
        listChanged: {
          tools: {
            onChanged: (err, tools) => {
              if (err) this.pool.warn(this.key, `cannot refresh the tool list: ${errorText(err)}`)
              else if (tools) this.tools = tools.map((t) => toMcpTool(this.key.server, t))
            },
          },
        },
      },
    )
    this.client = client
    client.onclose = () => {
      if (!this.closed && this.connected) {
        const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ')
        this.died = `MCP server "${this.key.server}" stopped${tail ? `: ${tail}` : ''}`
        this.pool.warn(this.key, `the server stopped${tail ? ` (stderr: ${tail})` : ''}`)
        this.pool.forget(this)
      }
    }
    const timeout = this.pool.connectTimeoutMs
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(timeout / 1000)} s`)), timeout)
    })
    try {
      await Promise.race([
        (async () => {
          await client.connect(transport, {timeout})
          const listed = await client.listTools(undefined, {timeout})
          this.tools = listed.tools.map((t) => toMcpTool(this.key.server, t))
          this.connected = true
        })(),
        timedOut,
      ])
    } catch (err) {
      this.closed = true
      await client.close().catch(() => {})
      const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ')
      throw new Error(`${errorText(err)}${tail && !errorText(err).includes(tail) ? ` (stderr: ${tail})` : ''}`, {cause: err})
    } finally {
      clearTimeout(timer)
    }
  }

  touch(): void {
    this.lastUsed = this.pool.now()
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => {
      this.pool.log('debug', `mcp: closing idle server "${this.key.server}" of agent "${this.key.agentId}"`)
      void this.pool.drop(this)
    }, this.pool.idleMs)
    this.idleTimer.unref()
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.idleTimer)
    // A stdio server: tell its reaper to end it now (the SDK would first wait 2 s for it to
    // leave on its own once its stdin closes).
    const pid = this.transport instanceof StdioClientTransport ? this.transport.pid : null
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM')
      } catch {
        // already gone
      }
    }
    await this.client?.close().catch(() => {})
  }
}

function toMcpTool(server: string, t: {name: string; description?: string; inputSchema: unknown; annotations?: {readOnlyHint?: boolean}}): McpTool {
  const schema = t.inputSchema && typeof t.inputSchema === 'object' ? (t.inputSchema as Record<string, unknown>) : {type: 'object'}
  return {server, name: t.name, description: t.description ?? '', inputSchema: schema, readOnly: t.annotations?.readOnlyHint === true}
}

interface Failure {
  error: string
  hint?: string
  attempts: number
  retryAt: number
  hash: string
}

export class McpPool {
  private readonly connections = new Map<string, Connection>()
  private readonly failures = new Map<string, Failure>()
  private closing = false
  readonly idleMs: number
  readonly connectTimeoutMs: number
  readonly now: () => number
  readonly log: Logger

  constructor(private readonly opts: McpPoolOptions) {
    this.idleMs = opts.idleMs ?? IDLE_MS
    this.connectTimeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
    this.now = opts.now ?? Date.now
    this.log = opts.log
  }

  warn(key: ConnectionKey, message: string): void {
    this.log('warn', `mcp server "${key.server}" of agent "${key.agentId}": ${message}`)
  }

  /** How many connections are open (tests, benchmarks). */
  get size(): number {
    return this.connections.size
  }

  /**
   * The state and tools of every MCP server of the agent for this user, connecting the ones not
   * connected yet (in parallel). A failed server is reported, never thrown.
   */
  async servers(agent: AgentRow, userId: string): Promise<ServerState[]> {
    const entries = Object.entries(agent.spec.mcp ?? {})
    return Promise.all(
      entries.map(async ([server, spec]): Promise<ServerState> => {
        try {
          const conn = await this.connection(agent, userId, server)
          return {server, type: spec.type, state: 'connected', tools: conn.tools}
        } catch (err) {
          const e = err instanceof McpServerError ? err : new McpServerError(server, errorText(err))
          return {server, type: spec.type, state: 'failed', error: e.message, ...(e.hint ? {hint: e.hint} : {}), tools: []}
        }
      }),
    )
  }

  /** The open connection of (org, agent, user, server), opened now if needed. Throws McpServerError. */
  async connection(agent: AgentRow, userId: string, server: string): Promise<Connection> {
    if (this.closing) throw new McpServerError(server, `MCP server "${server}": the gateway is shutting down`)
    const spec = agent.spec.mcp[server]
    if (!spec) throw new McpServerError(server, `agent "${agent.agentId}" has no MCP server "${server}"`)
    const key: ConnectionKey = {orgId: agent.orgId, agentId: agent.agentId, userId, server}
    const id = connectionId(key)
    const hash = specHash(spec)
    let conn = this.connections.get(id)
    if (conn && (conn.hash !== hash || conn.closed)) {
      // The agent's config of this server changed (an apply): the old process goes.
      await this.drop(conn)
      conn = undefined
    }
    if (!conn) {
      const failed = this.failures.get(id)
      if (failed && failed.hash === hash && this.now() < failed.retryAt) throw new McpServerError(server, failed.error, failed.hint)
      conn = new Connection(this, key, spec, hash, agent)
      this.connections.set(id, conn)
    }
    try {
      await conn.ready
    } catch (err) {
      if (this.connections.get(id) === conn) this.connections.delete(id)
      const previous = this.failures.get(id)
      const attempts = previous && previous.hash === hash ? previous.attempts + 1 : 1
      const auth = err instanceof McpAuthError || isUnauthorized(err) || isUnauthorized((err as {cause?: unknown}).cause)
      const message = `MCP server "${server}" is unavailable: ${errorText(err)}`
      const hint = auth ? `lobu oauth connect ${server}` : undefined
      const retryAt = this.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempts - 1))
      // A missing OAuth grant is not a server failure: the next use tries again at once.
      this.failures.set(id, {error: message, hint, attempts, retryAt: auth ? 0 : retryAt, hash})
      if (!auth) this.warn(key, `cannot connect (attempt ${attempts}): ${errorText(err)}`)
      throw new McpServerError(server, message, hint)
    }
    this.failures.delete(id)
    conn.touch()
    return conn
  }

  /**
   * Call a tool. Returns the raw MCP result; throws McpServerError when the server is
   * unavailable or died, and other errors for protocol errors and timeouts.
   */
  async call(
    agent: AgentRow,
    userId: string,
    server: string,
    tool: string,
    args: Record<string, unknown>,
    options: {signal?: AbortSignal; timeoutMs?: number} = {},
  ): Promise<{content?: unknown; isError?: unknown; structuredContent?: unknown}> {
    const conn = await this.connection(agent, userId, server)
    const spec = agent.spec.mcp[server]!
    const timeout = options.timeoutMs ?? spec.timeoutMs ?? CALL_TIMEOUT_MS
    try {
      const result = await conn.client!.callTool({name: tool, arguments: args}, undefined, {timeout, signal: options.signal})
      return result as {content?: unknown; isError?: unknown; structuredContent?: unknown}
    } catch (err) {
      if (conn.died) throw new McpServerError(server, conn.died)
      if (isUnauthorized(err)) throw new McpServerError(server, `MCP server "${server}" refused the credentials (401)`, `lobu oauth connect ${server}`)
      throw err
    } finally {
      conn.touch()
    }
  }

  /** Forget a connection that closed by itself (the next use reconnects, after the backoff). */
  forget(conn: Connection): void {
    const id = connectionId(conn.key)
    if (this.connections.get(id) !== conn) return
    this.connections.delete(id)
    clearTimeout(conn.idleTimer)
    this.failures.set(id, {error: conn.died ?? `MCP server "${conn.key.server}" stopped`, attempts: 1, retryAt: this.now() + RETRY_BASE_MS, hash: conn.hash})
  }

  async drop(conn: Connection): Promise<void> {
    const id = connectionId(conn.key)
    if (this.connections.get(id) === conn) this.connections.delete(id)
    await conn.close()
  }

  /** Close every connection of an agent (or of one user of it). */
  async closeAgent(orgId: string, agentId: string, userId?: string): Promise<void> {
    const victims = [...this.connections.values()].filter((c) => c.key.orgId === orgId && c.key.agentId === agentId && (userId === undefined || c.key.userId === userId))
    await Promise.all(victims.map((c) => this.drop(c)))
  }

  /** Gateway shutdown: close every connection (stdio servers are ended) and refuse new ones. */
  async close(): Promise<void> {
    this.closing = true
    const all = [...this.connections.values()]
    this.connections.clear()
    await Promise.all(all.map((c) => c.close()))
  }

  /** The transport of a connection being opened. */
  async transportFor(conn: Connection): Promise<Transport> {
    const {spec, key, agent} = conn
    const values = await this.resolver(key.orgId)
    if (spec.type === 'stdio') {
      // The private directory is made only for a server that names it.
      const wantsDir = [...(spec.args ?? []), ...Object.values(spec.env ?? {})].some((v) => v.includes(STATE_DIR_PLACEHOLDER))
      const stateDir = wantsDir ? await this.stateDir(key) : ''
      const expand = (v: string) => (wantsDir ? v.split(STATE_DIR_PLACEHOLDER).join(stateDir) : v)
      const childEnv: Record<string, string> = {}
      for (const name of INHERITED_ENV) {
        const value = this.opts.env[name]
        if (value !== undefined) childEnv[name] = value
      }
      for (const [name, raw] of Object.entries(spec.env ?? {})) childEnv[name] = expand(await values(raw, `env.${name}`, key.server))
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: ['-e', REAPER_SOURCE, '--', spec.command!, ...(spec.args ?? []).map(expand)],
        // The reaper's own environment: the SDK adds its minimal default set (HOME, PATH, USER…);
        // the server gets exactly childEnv.
        env: {LOBU_MCP_CHILD_ENV: JSON.stringify(childEnv)},
        cwd: this.opts.projectRoot ?? process.cwd(),
        stderr: 'pipe',
      })
      transport.stderr?.on('data', (chunk: Buffer) => {
        conn.stderrTail = (conn.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL)
      })
      return transport
    }
    const url = spec.url!
    const refused = networkRefusal(agent.spec.network, url)
    if (refused) throw new Error(`${url} is refused by the agent's network policy: ${refused}`)
    const headers: Record<string, string> = {}
    for (const [name, raw] of Object.entries(spec.headers ?? {})) headers[name] = await values(raw, `headers.${name}`, key.server)
    if (spec.oauth) {
      if (!this.opts.bearer) throw new McpAuthError('this gateway has no OAuth grants')
      try {
        headers.authorization = `Bearer ${await this.opts.bearer(key)}`
      } catch (err) {
        throw new McpAuthError(`no usable OAuth connection for "${key.server}" (${errorText(err)})`)
      }
    }
    const egress = this.opts.egress
    if (egress?.guarded) egress.assertUrl(url)
    const send: typeof fetch = egress?.guarded ? (u, init) => egress.fetch(u instanceof Request ? u.url : u, init) : fetch
    const requestInit: RequestInit = {headers}
    return spec.type === 'sse'
      ? new SSEClientTransport(new URL(url), {requestInit, fetch: send, eventSourceInit: {fetch: (u, init) => send(u, {...init, headers: {...(init?.headers as Record<string, string>), ...headers}})}})
      : new StreamableHTTPClientTransport(new URL(url), {requestInit, fetch: send})
  }

  /** `$NAME` values of env/headers are org secrets (stored encrypted by apply); others are literals. */
  private async resolver(orgId: string): Promise<(raw: string, field: string, server: string) => Promise<string>> {
    return async (raw, field, server) => {
      const m = /^\$(?:([A-Z_][A-Z0-9_]*)|\{([A-Z_][A-Z0-9_]*)\})$/.exec(raw)
      if (!m) return raw
      const name = (m[1] ?? m[2])!
      const row = await this.opts.store.secrets.get(orgId, name)
      if (!row) throw new Error(`${field} names the org secret ${name}, which is not set (lobu apply stores it from the environment)`)
      try {
        return decryptSecret(this.opts.installKey, row.ciphertext)
      } catch {
        throw new Error(`${field}: the org secret ${name} cannot be decrypted with this install key (server "${server}")`)
      }
    }
  }

  /** The private directory of (org, agent, user, server), created on first use. */
  private async stateDir(key: ConnectionKey): Promise<string> {
    const digest = createHash('sha256').update(connectionId(key)).digest('hex').slice(0, 24)
    const base = this.opts.projectRoot ? join(this.opts.projectRoot, '.lobu', 'mcp') : join(tmpdir(), 'lobu-mcp')
    const dir = join(base, digest)
    await mkdir(dir, {recursive: true, mode: 0o700})
    return dir
  }
}

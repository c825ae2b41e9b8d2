/**
 * The tools of a gateway: the MCP connection pool, approvals and grants, and what one turn
 * needs — the tools to offer and a way to run a call through the policy (policy.ts):
 *
 * 1. a read-only tool (`readOnlyHint: true`) runs, and nothing is ever asked for it;
 * 2. otherwise, under a dry run, it never runs: "skipped: dry run";
 * 3. otherwise it runs when pre-approved or granted (a live grant of this org, user and agent);
 * 4. otherwise the turn asks (`approval_required`) and waits; where nobody can be asked (the
 *    OpenAI-compatible endpoint) it is denied. Every denial is told to the model in the result.
 */
import {performance} from 'node:perf_hooks'

import type {Logger, Services} from '../http/types.js'
import {GrantService} from '../oauth/grants.js'
import type {ToolCall, ToolSpec} from '../providers/types.js'
import type {AgentRow} from '../store/types.js'
import {ApprovalService, type Owner} from './approvals.js'
import {McpPool, McpServerError, type McpPoolOptions, type McpTool, type ServerState} from './mcp.js'
import {offeredNames, toolPath} from './naming.js'
import {isOffered, toolStatus, type ToolStatus} from './policy.js'
import {errorOutcome, fromCallResult, type ToolOutcome} from './results.js'

/** A tool call as events show it. */
export interface ToolCallInfo {
  callId: string
  name: string
  server: string
  tool: string
  arguments: string
}

export interface ToolResultInfo {
  callId: string
  ok: boolean
  summary: string
  durationMs: number
  skipped?: 'dry_run' | 'denied'
}

/** Where a turn's tool events go. */
export interface ToolEvents {
  approvalRequired(info: {callId: string; server: string; tool: string; arguments: string; expiresAt: string}): void | Promise<void>
}

/** What a turn gets: the tools to offer and how to run a call. */
export interface TurnTools {
  specs: ToolSpec[]
  /** Servers that could not be used this turn (reported once at the start of the turn). */
  unavailable: {server: string; message: string; hint?: string}[]
  /** The server and tool of an offered name. */
  lookup(name: string): {server: string; tool: string} | undefined
  /** Decide and run one call; never throws. `toolMs`: the time spent in the tool itself. */
  run(call: ToolCall, events: ToolEvents, signal: AbortSignal): Promise<ToolOutcome & {toolMs: number}>
}

export interface TurnToolsRequest extends Owner {
  agent: AgentRow
  /** The session (for approvals); without one nobody can be asked and such calls are denied. */
  sessionKey?: string
  dryRun?: boolean
}

export interface ToolView {
  name: string
  description: string
  readOnly: boolean
  status: ToolStatus
  grantExpiresAt?: string
}

export interface ServerView {
  id: string
  type: string
  state: 'connected' | 'failed'
  error?: string
  hint?: string
  tools: ToolView[]
}

export interface ToolServiceOptions extends Partial<Pick<McpPoolOptions, 'idleMs' | 'connectTimeoutMs'>> {
  approvalTtlMs?: number
}

function parseArguments(text: string): Record<string, unknown> | string {
  if (text.trim() === '') return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return `the arguments are not valid JSON (${err instanceof Error ? err.message : String(err)}); send a JSON object matching the tool's schema`
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'the arguments must be a JSON object matching the tool\'s schema'
  return value as Record<string, unknown>
}

function denial(server: string, tool: string, why: string): ToolOutcome {
  return errorOutcome(`The user did not allow this call of ${server}.${tool}: ${why}. Do not retry it; tell the user what you wanted to do instead.`, 'denied')
}

export class ToolService {
  readonly pool: McpPool
  readonly approvals: ApprovalService
  private readonly log: Logger

  constructor(services: Pick<Services, 'store' | 'installKey' | 'log' | 'env' | 'project'> & Partial<Pick<Services, 'egress'>>, options: ToolServiceOptions = {}) {
    this.log = services.log
    const grants = new GrantService({store: services.store, installKey: services.installKey, log: services.log})
    this.pool = new McpPool({
      store: services.store,
      installKey: services.installKey,
      log: services.log,
      env: services.env,
      projectRoot: services.project?.root,
      egress: services.egress,
      idleMs: options.idleMs,
      connectTimeoutMs: options.connectTimeoutMs,
      bearer: async (key) => (await grants.accessToken({orgId: key.orgId, userId: key.userId, agentId: key.agentId, kind: 'mcp', target: key.server})).accessToken,
    })
    this.approvals = new ApprovalService(services.store, options.approvalTtlMs)
  }

  close(): Promise<void> {
    return this.pool.close()
  }

  /** The tools of a turn, or undefined when the agent has no MCP server. */
  async forTurn(req: TurnToolsRequest): Promise<TurnTools | undefined> {
    const {agent} = req
    if (Object.keys(agent.spec.mcp ?? {}).length === 0) return undefined
    const [servers, grants] = await Promise.all([this.pool.servers(agent, req.userId), this.approvals.liveGrants(req, agent.agentId)])
    const offered: McpTool[] = []
    const unavailable: TurnTools['unavailable'] = []
    for (const s of servers) {
      if (s.state === 'failed') unavailable.push({server: s.server, message: s.error ?? `MCP server "${s.server}" is unavailable`, ...(s.hint ? {hint: s.hint} : {})})
      for (const t of s.tools) if (isOffered(agent.spec.tools, t.server, t.name)) offered.push(t)
    }
    const names = offeredNames(offered.map((t) => ({server: t.server, tool: t.name})))
    const byName = new Map<string, McpTool>()
    const specs: ToolSpec[] = offered.map((t, i) => {
      byName.set(names[i]!, t)
      return {name: names[i]!, ...(t.description ? {description: t.description} : {}), parameters: t.inputSchema}
    })
    return {
      specs,
      unavailable,
      lookup: (name) => {
        const t = byName.get(name)
        return t && {server: t.server, tool: t.name}
      },
      run: (call, events, signal) => this.run(req, byName.get(call.name), call, events, signal, grants),
    }
  }

  private async run(
    req: TurnToolsRequest,
    tool: McpTool | undefined,
    call: ToolCall,
    events: ToolEvents,
    signal: AbortSignal,
    grants: Map<string, {expiresAt: Date | null}>,
  ): Promise<ToolOutcome & {toolMs: number}> {
    if (!tool) return {...errorOutcome(`There is no tool named "${call.name}". Use one of the tools offered.`), toolMs: 0}
    const args = parseArguments(call.arguments)
    if (typeof args === 'string') return {...errorOutcome(`${tool.server}.${tool.name}: ${args}`), toolMs: 0}
    const {agent} = req
    const status = toolStatus(agent.spec.tools, {server: tool.server, tool: tool.name, readOnly: tool.readOnly}, grants.get(toolPath(tool.server, tool.name)))
    if (status === 'denied') return {...denial(tool.server, tool.name, 'the agent\'s tools.denied forbids it'), toolMs: 0}
    if (status !== 'read-only' && req.dryRun) {
      return {ok: false, content: `skipped: dry run (${tool.server}.${tool.name} was not executed; nothing changed)`, summary: 'skipped: dry run', skipped: 'dry_run', toolMs: 0}
    }
    let waited = 0
    if (status === 'needs-approval') {
      const asked = performance.now()
      if (!req.sessionKey) return {...denial(tool.server, tool.name, 'it needs an approval and nobody can be asked here (pre-approve it with tools.pre_approved)'), toolMs: 0}
      const approval = {orgId: req.orgId, userId: req.userId, sessionKey: req.sessionKey, callId: call.callId, agentId: agent.agentId, server: tool.server, tool: tool.name}
      const expiresAt = await this.approvals.open(approval)
      await events.approvalRequired({callId: call.callId, server: tool.server, tool: tool.name, arguments: call.arguments, expiresAt: expiresAt.toISOString()})
      const decision = await this.approvals.wait(approval, expiresAt, signal)
      waited = performance.now() - asked
      if (decision === 'deny') return {...denial(tool.server, tool.name, 'the user denied it'), toolMs: waited}
      if (decision === 'timeout') return {...denial(tool.server, tool.name, 'no decision within 10 minutes'), toolMs: waited}
      if (decision === 'cancelled') return {...denial(tool.server, tool.name, 'the turn was cancelled'), toolMs: waited}
      if (decision !== 'once') grants.set(toolPath(tool.server, tool.name), {expiresAt: null})
    }
    const started = performance.now()
    try {
      const result = await this.pool.call(agent, req.userId, tool.server, tool.name, args, {signal})
      return {...fromCallResult(result), toolMs: waited + performance.now() - started}
    } catch (err) {
      const toolMs = waited + performance.now() - started
      if (err instanceof McpServerError) {
        return {...errorOutcome(`${err.message}${err.hint ? ` (hint: ${err.hint})` : ''}`), toolMs}
      }
      const message = err instanceof Error ? err.message : String(err)
      const timedOut = /timed? ?out/i.test(message)
      if (!timedOut) this.log('debug', `tool ${tool.server}.${tool.name} failed: ${message}`)
      return {...errorOutcome(`${tool.server}.${tool.name} failed: ${message}`), toolMs}
    }
  }

  /** `GET /api/v1/agents/:id/tools` for the caller (connects their servers if needed). */
  async view(owner: Owner, agent: AgentRow): Promise<{servers: ServerView[]}> {
    const [servers, grants] = await Promise.all([this.pool.servers(agent, owner.userId), this.approvals.liveGrants(owner, agent.agentId)])
    return {servers: servers.map((s) => serverView(agent, s, grants))}
  }
}

function serverView(agent: AgentRow, s: ServerState, grants: Map<string, {expiresAt: Date | null}>): ServerView {
  return {
    id: s.server,
    type: s.type,
    state: s.state,
    ...(s.error ? {error: s.error} : {}),
    ...(s.hint ? {hint: s.hint} : {}),
    tools: s.tools.map((t) => {
      const grant = grants.get(toolPath(t.server, t.name))
      const status = toolStatus(agent.spec.tools, {server: t.server, tool: t.name, readOnly: t.readOnly}, grant)
      const view: ToolView = {name: t.name, description: t.description, readOnly: t.readOnly, status}
      if (status === 'granted' && grant?.expiresAt) view.grantExpiresAt = grant.expiresAt.toISOString()
      return view
    }),
  }
}


/**
 * `lobu tools` and `lobu tools revoke`: an agent's MCP servers and tools as the gateway sees them
 * for the caller (`GET /api/v1/agents/:id/tools`), and dropping the caller's grants
 * (`DELETE /api/v1/agents/:id/tools/grants?pattern=`). Import lazily from the commands.
 */
import {UsageError} from '../core/errors.js'
import {neutralizeControls} from '../cli/terminal.js'
import {cutToWidth, stringWidth} from '../cli/width.js'
import type {ApiClient} from '../client/index.js'
import {relativeTime} from '../credentials/format.js'

export type ToolStatus = 'read-only' | 'pre-approved' | 'granted' | 'needs-approval' | 'denied'

export interface ToolInfo {
  name: string
  description?: string
  readOnly?: boolean
  status: ToolStatus | string
  grantExpiresAt?: string | null
}

export interface ServerInfo {
  id: string
  type: string
  /** `connected`, `failed` (with `error`), or another state the gateway reports. */
  state: string
  error?: string
  tools: ToolInfo[]
}

export interface AgentTools {
  agentId: string
  servers: ServerInfo[]
}

const agentPath = (agentId: string) => `/api/v1/agents/${encodeURIComponent(agentId)}`

/** The agent's servers and tools, with each tool's status for the caller. */
export async function listTools(client: ApiClient, agentId: string, signal?: AbortSignal): Promise<AgentTools> {
  const res = await client.get<{servers?: ServerInfo[]}>(`${agentPath(agentId)}/tools`, undefined, {signal})
  const servers = Array.isArray(res?.servers) ? res.servers : []
  return {agentId, servers: servers.map((s) => ({...s, tools: Array.isArray(s.tools) ? s.tools : []}))}
}

/** A server id of lobu.toml (`skills.mcp.<id>`). */
const SERVER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
/** A tool name as MCP servers name them, or `*`. */
const TOOL_NAME = /^(?:\*|[^/\s*\p{Cc}]{1,128})$/u

/**
 * Checks a grant pattern, `/mcp/<server>/tools/<tool>` or `/mcp/<server>/tools/*`: a usage error
 * (exit 2) naming the expected shape otherwise.
 */
export function parseToolPattern(pattern: string): {server: string; tool: string} {
  const m = /^\/mcp\/([^/]*)\/tools\/([^/]*)$/.exec(pattern)
  const server = m?.[1] ?? ''
  const tool = m?.[2] ?? ''
  if (!m || !SERVER_ID.test(server) || !TOOL_NAME.test(tool)) {
    throw new UsageError(`invalid tool pattern ${JSON.stringify(neutralizeControls(pattern))}: expected /mcp/<server>/tools/<tool> or /mcp/<server>/tools/*`, {
      code: 'INVALID_PATTERN',
      hint: 'e.g. lobu tools revoke /mcp/files/tools/write_file (see the servers and tools with `lobu tools`)',
    })
  }
  return {server, tool}
}

/** Drop the caller's grants matching `pattern` (checked first); how many were removed. */
export async function revokeGrants(client: ApiClient, agentId: string, pattern: string, signal?: AbortSignal): Promise<{agentId: string; pattern: string; removed: number}> {
  parseToolPattern(pattern)
  const res = await client.delete<{removed?: number}>(`${agentPath(agentId)}/tools/grants?pattern=${encodeURIComponent(pattern)}`, undefined, {signal})
  const removed = typeof res?.removed === 'number' ? res.removed : 0
  return {agentId, pattern, removed}
}

export interface RenderStyles {
  bold(text: string): string
  dim(text: string): string
  red(text: string): string
  green(text: string): string
  yellow(text: string): string
}

const plain: RenderStyles = {bold: (t) => t, dim: (t) => t, red: (t) => t, green: (t) => t, yellow: (t) => t}

/** A tool's status for people: "read-only", "granted until 2026-12-06 14:05 UTC", "granted (always)", "needs approval"… */
export function statusText(tool: ToolInfo, now: Date = new Date()): string {
  switch (tool.status) {
    case 'granted': {
      const iso = tool.grantExpiresAt
      const t = iso ? Date.parse(iso) : Number.NaN
      if (!iso) return 'granted (always)'
      if (Number.isNaN(t)) return 'granted'
      const rel = relativeTime(iso, now)
      return `granted until ${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC${rel.startsWith('in ') ? '' : ` (${rel})`}`
    }
    case 'needs-approval':
      return 'needs approval'
    default:
      return neutralizeControls(String(tool.status ?? '?'))
  }
}

function serverState(server: ServerInfo, s: RenderStyles): string {
  if (server.state === 'connected') return s.green('connected')
  const state = neutralizeControls(String(server.state ?? '?'))
  return server.state === 'failed' ? s.red(state) : state
}

function styleStatus(tool: ToolInfo, text: string, s: RenderStyles): string {
  if (tool.status === 'denied') return s.red(text)
  if (tool.status === 'needs-approval') return s.yellow(text)
  return text
}

export interface RenderOptions {
  /** Lines are cut to this many columns (a terminal's width); default 120. */
  width?: number
  now?: Date
  styles?: RenderStyles
}

const pad = (text: string, width: number) => ' '.repeat(Math.max(0, width - stringWidth(text)))

/** The readable listing: one block per server (id, type, state), one row per tool (name, status, description). */
export function renderTools(data: AgentTools, opts: RenderOptions = {}): string {
  const s = opts.styles ?? plain
  const width = opts.width && opts.width > 0 ? opts.width : 120
  const agent = neutralizeControls(data.agentId)
  if (data.servers.length === 0) {
    return `Agent ${agent} has no MCP servers.\n${s.dim(`Add one under [agents.${agent}.skills.mcp.<id>] in lobu.toml, then run lobu apply.`)}\n`
  }
  const out: string[] = []
  for (const server of data.servers) {
    const count = server.tools.length
    const tally = server.state === 'connected' ? s.dim(`  ${count} tool${count === 1 ? '' : 's'}`) : ''
    out.push(`${s.bold(neutralizeControls(server.id))}  ${s.dim(neutralizeControls(String(server.type ?? '')))}  ${serverState(server, s)}${tally}`)
    // The error in full (never cut): it is what to fix.
    if (server.error) out.push(`  ${server.state === 'failed' ? s.red(neutralizeControls(server.error)) : neutralizeControls(server.error)}`)
    const rows = server.tools.map((tool) => {
      const status = statusText(tool, opts.now)
      return {
        name: cutToWidth(neutralizeControls(tool.name), 48),
        status,
        styled: styleStatus(tool, status, s),
        description: neutralizeControls((tool.description ?? '').trim().split(/\r?\n/, 1)[0] ?? '').trim(),
      }
    })
    const nameWidth = Math.max(0, ...rows.map((r) => stringWidth(r.name)))
    const statusWidth = Math.max(0, ...rows.map((r) => stringWidth(r.status)))
    const room = width - (2 + nameWidth + 2 + statusWidth + 2)
    for (const r of rows) {
      const bare = `  ${r.name}${pad(r.name, nameWidth)}  ${r.status}`
      if (stringWidth(bare) > width) {
        out.push(cutToWidth(bare, width)) // a narrow terminal: the row as plain text, cut
        continue
      }
      const line = `  ${r.name}${pad(r.name, nameWidth)}  ${r.styled}${pad(r.status, statusWidth)}`
      out.push(r.description && room >= 10 ? `${line}  ${s.dim(cutToWidth(r.description, room))}` : line.trimEnd())
    }
    out.push('')
  }
  return out.join('\n')
}

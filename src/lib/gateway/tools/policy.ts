/**
 * Which tools an agent offers and which calls run without asking (docs/lobu-toml.md `tools`):
 *
 * - `tools.denied` wins over everything: a denied tool is never offered;
 * - with `tools.allowed` set, only matching tools are offered;
 * - a tool annotated `readOnlyHint: true` runs without asking;
 * - any other tool runs when it matches `tools.pre_approved`, when the user holds a live grant
 *   for it, or when the user approves that very call (approvals.ts). Under a dry run it never runs.
 *
 * Patterns are `/mcp/<server>/tools/<name>` or `/mcp/<server>/tools/*`.
 */
import type {AgentSpec} from '../store/types.js'

export type ToolStatus = 'read-only' | 'pre-approved' | 'granted' | 'needs-approval' | 'denied'

const PATTERN = /^\/mcp\/([^/\s]+)\/tools\/([^/\s]+)$/

/** Whether `/mcp/<server>/tools/<tool>` matches a pattern (`*` as the tool matches every tool of the server). */
export function matchesPattern(pattern: string, server: string, tool: string): boolean {
  const m = PATTERN.exec(pattern)
  if (!m) return false
  return m[1] === server && (m[2] === '*' || m[2] === tool)
}

export function isValidPattern(pattern: string): boolean {
  return PATTERN.test(pattern)
}

function anyMatch(patterns: readonly string[], server: string, tool: string): boolean {
  return patterns.some((p) => matchesPattern(p, server, tool))
}

/** Whether the tool may be offered at all (not denied; allowed when `allowed` is set). */
export function isOffered(tools: AgentSpec['tools'], server: string, tool: string): boolean {
  if (anyMatch(tools.denied, server, tool)) return false
  if (tools.allowed.length > 0 && !anyMatch(tools.allowed, server, tool)) return false
  return true
}

export interface ToolFacts {
  server: string
  tool: string
  readOnly: boolean
}

/**
 * The status of a tool for a user: `grantExpiry` is the user's live grant for it (null = never
 * expires), or undefined without one.
 */
export function toolStatus(tools: AgentSpec['tools'], facts: ToolFacts, grant: {expiresAt: Date | null} | undefined): ToolStatus {
  if (!isOffered(tools, facts.server, facts.tool)) return 'denied'
  if (facts.readOnly) return 'read-only'
  if (anyMatch(tools.preApproved, facts.server, facts.tool)) return 'pre-approved'
  if (grant) return 'granted'
  return 'needs-approval'
}

/** A domain pattern of `network.allowed` / `denied`: `example.com` exactly, `.example.com` any subdomain (and itself). */
function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '')
  const h = host.toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '')
  if (p.startsWith('.')) return h === p.slice(1) || h.endsWith(p)
  if (p.startsWith('*.')) return h === p.slice(2) || h.endsWith(p.slice(1))
  return h === p
}

/**
 * Whether the agent's `network` table lets it reach `url`: refused when its host matches
 * `denied`, or when `allowed` is set and the host matches none of it. undefined = allowed,
 * else the reason.
 */
export function networkRefusal(network: AgentSpec['network'], url: string): string | undefined {
  let host: string
  try {
    host = new URL(url).hostname
  } catch {
    return `"${url}" is not a valid URL`
  }
  if (network.denied.some((p) => hostMatches(p, host))) return `${host} is in the agent's network.denied`
  if (network.allowed.length > 0 && !network.allowed.some((p) => hostMatches(p, host))) return `${host} is not in the agent's network.allowed`
  return undefined
}

/** The variable that lets a team gateway (on DATABASE_URL) run stdio MCP servers. */
export const ALLOW_STDIO_ENV = 'LOBU_ALLOW_STDIO_MCP'

/**
 * stdio MCP servers run commands on the gateway's host: a gateway on PostgreSQL (a team gateway)
 * takes them only when started with LOBU_ALLOW_STDIO_MCP=1. The first refused (agent, server),
 * or undefined when all are accepted.
 */
export function stdioRefusal(
  storeKind: 'pglite' | 'postgres',
  env: NodeJS.ProcessEnv,
  agents: readonly {id: string; mcp?: Record<string, {type: string}>}[],
): {agent: string; server: string; message: string; hint: string} | undefined {
  if (storeKind !== 'postgres' || env[ALLOW_STDIO_ENV] === '1') return undefined
  for (const agent of agents) {
    for (const [server, spec] of Object.entries(agent.mcp ?? {})) {
      if (spec.type !== 'stdio') continue
      return {
        agent: agent.id,
        server,
        message: `agent "${agent.id}": MCP server "${server}" is a stdio server, which this team gateway does not run (it would run a command on the gateway's host)`,
        hint: `use an HTTP MCP server (url = …), or start the gateway with ${ALLOW_STDIO_ENV}=1 if every token with agents:write may run commands there`,
      }
    }
  }
  return undefined
}

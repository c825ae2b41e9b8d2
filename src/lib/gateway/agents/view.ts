/**
 * What the API shows of an agent. Never a key value, never MCP header or env values.
 */
import type {AgentDetail, AgentSummary, McpServerView} from '../../contract/api.js'
import type {AgentRow, KeySource} from '../store/types.js'

export type {AgentDetail, AgentProviderView, AgentSummary, McpServerView} from '../../contract/api.js'

export function keySourceLabel(key: KeySource): string {
  return key.kind === 'none' ? 'none' : `${key.kind}:${key.name}`
}

export function toAgentSummary(row: AgentRow): AgentSummary {
  return {
    id: row.agentId,
    name: row.spec.name,
    description: row.spec.description ?? null,
    providers: row.spec.providers.map((p) => ({id: p.id, model: p.model, keySource: keySourceLabel(p.key), ...(p.baseUrl ? {baseUrl: p.baseUrl} : {})})),
    mcp: Object.keys(row.spec.mcp ?? {}),
    managedBy: row.managedBy,
    updatedAt: row.updatedAt.toISOString(),
  }
}

export function toAgentDetail(row: AgentRow): AgentDetail {
  const {spec} = row
  const mcpServers: Record<string, McpServerView> = {}
  for (const [id, mcp] of Object.entries(spec.mcp ?? {})) {
    mcpServers[id] = {
      type: mcp.type,
      ...(mcp.url ? {url: mcp.url} : {}),
      ...(mcp.command ? {command: mcp.command} : {}),
      envNames: Object.keys(mcp.env ?? {}),
      headerNames: Object.keys(mcp.headers ?? {}),
      oauth: Boolean(mcp.oauth),
      ...(mcp.authScope ? {authScope: mcp.authScope} : {}),
    }
  }
  return {
    ...toAgentSummary(row),
    createdAt: row.createdAt.toISOString(),
    files: {
      identity: Boolean(spec.files?.identity),
      soul: Boolean(spec.files?.soul),
      user: Boolean(spec.files?.user),
      skills: (spec.files?.skills ?? []).map((s) => s.name),
    },
    mcpServers,
    network: spec.network ?? {allowed: [], denied: []},
    tools: spec.tools ?? {preApproved: [], allowed: [], denied: []},
  }
}

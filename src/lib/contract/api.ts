/**
 * The request and response bodies of the gateway's HTTP API, as the gateway sends them and the
 * CLI reads them. Types only: importing this file loads nothing. The gateway's views are built
 * to these types (the views and services under src/lib/gateway/), the CLI's commands read them as is.
 */

// ---------- oauth: /api/v1/oauth/connections ----------

/** A connection of the caller (an OAuth grant or a stored provider key); never its secret. */
export interface ConnectionView {
  id: string
  agentId: string
  /** The MCP server id (kind mcp) or provider id (kind provider). */
  target: string
  kind: 'mcp' | 'provider'
  status: 'active' | 'needs_reauth'
  scopes: string[]
  expiresAt: string | null
  createdAt: string
  updatedAt: string
}

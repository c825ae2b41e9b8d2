/**
 * An agent's configuration as the gateway stores and serves it: what `lobu apply` sends (built
 * from lobu.toml), what `PUT /api/v1/agents/:id` takes, and what bootstrap writes for the
 * `default` agent. Types only.
 */

/** Where a provider's key comes from. Secret values never live in agent config. */
export type KeySource =
  | {kind: 'secret'; name: string} // an org secret (encrypted), e.g. set by apply from $OPENAI_API_KEY
  | {kind: 'env'; name: string} // the gateway's own environment (system providers)
  | {kind: 'none'} // keyless (ollama) or not configured

export interface ProviderSpec {
  id: string
  model: string
  baseUrl?: string
  key: KeySource
}

export interface McpOAuthSpec {
  authUrl: string
  tokenUrl: string
  clientId?: string
  /** Name of an org secret holding the client secret (never the value). */
  clientSecretRef?: string
  scopes?: string[]
}

export interface McpSpec {
  type: 'streamable-http' | 'sse' | 'stdio'
  url?: string
  command?: string
  args?: string[]
  env?: Record<string, string>
  headers?: Record<string, string>
  oauth?: McpOAuthSpec
  authScope?: 'user' | 'channel'
  /** Per tool call (default 60 s). */
  timeoutMs?: number
}

export interface AgentSpec {
  name: string
  description?: string
  /** The text of the agent's files, in system-prompt order. */
  files: {identity?: string; soul?: string; user?: string; skills: {name: string; content: string}[]}
  providers: ProviderSpec[]
  mcp: Record<string, McpSpec>
  network: {allowed: string[]; denied: string[]}
  tools: {preApproved: string[]; allowed: string[]; denied: string[]}
}

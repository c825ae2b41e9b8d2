/**
 * The request and response bodies of the gateway's HTTP API, as the gateway sends them and the
 * CLI reads them. Types only: importing this file loads nothing. The gateway's views are built
 * to these types (the views and services under src/lib/gateway/), the CLI's commands read them as is.
 */

import type {Scope} from './scopes.js'

// ---------- GET /health (no auth) ----------

/** `GET /health` once ready (200); before, 503 `{status: "starting", waitingFor}`. */
export interface HealthResponse {
  status: 'ready'
  ok: true
  version: string
  /** The project a local gateway serves (projectIdOf, src/lib/contract/ids.ts), else null. */
  project: string | null
}

// ---------- GET /api/v1/whoami ----------

export interface WhoamiResponse {
  user: {id: string; name: string; email: string | null}
  org: {id: string; slug: string; name: string}
  token: {id: string; name: string; scopes: string[]; expiresAt: string | null}
}

// ---------- /api/v1/tokens (tokens:write) ----------

/** `POST /api/v1/tokens` body. */
export interface CreateTokenRequest {
  name: string
  scopes: string[]
  /** `30d`, `12h`, `never`, or seconds; default 90 days. */
  expiresIn?: string | number
}

/** `POST /api/v1/tokens` answer (201). */
export interface CreatedToken {
  id: string
  /** The plaintext token: returned exactly once, never stored. */
  token: string
  name: string
  scopes: Scope[]
  expiresAt: string | null
}

/** One of `GET /api/v1/tokens` (an array of them): never the secret. */
export interface TokenView {
  id: string
  name: string
  scopes: string[]
  createdAt: string
  lastUsedAt: string | null
  expiresAt: string | null
  expired: boolean
  /** True for the token that made this request. */
  current: boolean
}

// ---------- /api/v1/admin/orgs (admin) ----------

export interface OrgView {
  id: string
  slug: string
  name: string
  createdAt: string
}

export interface UserView {
  id: string
  name: string
  email: string | null
}

/** `POST /api/v1/admin/orgs` body. */
export interface CreateOrgRequest {
  slug: string
  name: string
  owner: {email: string; name: string; password?: string}
}

/** `POST /api/v1/admin/orgs` answer (201): the org, its owner and the owner's first token. */
export interface CreatedOrg {
  org: OrgView
  user: UserView
  token: CreatedToken
}

// ---------- oauth: device login (RFC 8628), no token ----------

/** `POST /oauth/device/code` answer (form or JSON body: client_id, scope). */
export interface DeviceCodeResponse {
  device_code: string
  user_code: string
  verification_uri: string
  verification_uri_complete: string
  expires_in: number
  interval: number
}

/** `POST /oauth/token` answer once the login is approved (grant_type device_code). */
export interface DeviceTokenResponse {
  access_token: string
  token_type: 'Bearer'
  scope: string
  expires_in?: number
}

/** `POST /oauth/device/approve` answer (a `tokens:write` token approves a user code). */
export interface DeviceApproved {
  approved: true
  clientId: string
  scopes: string[]
  org: string
}

// ---------- oauth: account connections (oauth scope) ----------

/** `POST /api/v1/oauth/connect` body. */
export interface ConnectRequest {
  agentId: string
  /** An MCP server id of the agent (with an `oauth` table). */
  target: string
}

/** `POST /api/v1/oauth/connect` answer (201): where the user authorizes, until when. */
export interface ConnectStart {
  authorizeUrl: string
  state: string
  expiresAt: string
}

/** `POST /api/v1/oauth/keys` body: the caller's own key for a provider of an agent. */
export interface ProviderKeyRequest {
  agentId: string
  providerId: string
  key: string
}

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

// ---------- /api/v1/agents (agents:read, agents:write) ----------
// What the API shows of an agent: never a key value, never MCP header or env values.

export interface AgentProviderView {
  id: string
  model: string
  /** `secret:NAME`, `env:NAME` or `none`: where the key comes from, never the key. */
  keySource: string
  baseUrl?: string
}

export interface AgentSummary {
  id: string
  name: string
  description: string | null
  providers: AgentProviderView[]
  mcp: string[]
  managedBy: string | null
  updatedAt: string
}

export interface McpServerView {
  type: string
  url?: string
  command?: string
  /** Names only: values may be credentials. */
  envNames: string[]
  headerNames: string[]
  oauth: boolean
  authScope?: string
}

export interface AgentDetail extends AgentSummary {
  createdAt: string
  files: {identity: boolean; soul: boolean; user: boolean; skills: string[]}
  mcpServers: Record<string, McpServerView>
  network: {allowed: string[]; denied: string[]}
  tools: {preApproved: string[]; allowed: string[]; denied: string[]}
}

// ---------- /api/v1/sessions (chat) ----------

/** `POST /api/v1/sessions` body. */
export interface CreateSessionRequest {
  /** Default: the org's `default` agent. */
  agentId?: string
  thread?: string
  /** Start the thread afresh: its session and messages so far are deleted. */
  forceNew?: boolean
}

/** `POST /api/v1/sessions` answer (201 created, 200 resumed). */
export interface SessionView {
  sessionKey: string
  agentId: string
  thread: string
  createdAt: string
  updatedAt: string
}

export interface MessageView {
  messageId: string
  role: 'user' | 'assistant' | 'tool'
  content: string
  status: 'complete' | 'partial'
  /** On an assistant message that called tools. */
  toolCalls?: {callId: string; name: string; arguments: string}[]
  /** On a tool message: the call it answers. */
  callId?: string
  name?: string
  isError?: boolean
  createdAt: string
}

/** `GET /api/v1/sessions/:key`. */
export interface SessionDetail extends SessionView {
  messages: MessageView[]
}

/** `POST /api/v1/sessions/:key/messages` body. */
export interface PostMessageRequest {
  content: string
  /** Tools that are not read-only are skipped, not run. */
  dryRun?: boolean
}

/** `POST /api/v1/sessions/:key/messages` answer without `Accept: text/event-stream` (202). */
export interface MessageAccepted {
  messageId: string
}

// ---------- /api/v1/secrets (never a value) ----------

export interface SecretView {
  name: string
  createdAt: string
  updatedAt: string
  /** The agents that refer to it (a provider key, an MCP OAuth client secret). */
  usedBy: string[]
}

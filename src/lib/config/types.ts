/**
 * The typed, validated lobu.toml. Keys mirror the file as written (snake_case kept); defaults are
 * filled in: a catalog provider's `model`, an MCP server's `type` and `auth_scope`, empty
 * `providers` and `agents`. Compatibility keys of the earlier lobu platform are not carried over.
 */
import type {ConfigIssue} from './issues.js'

export type McpType = 'streamable-http' | 'sse' | 'stdio'
export type McpAuthScope = 'user' | 'channel'

export interface OAuthConfig {
  auth_url: string
  token_url: string
  client_id?: string
  /** A `$NAME` reference or a literal. */
  client_secret?: string
  scopes?: string[]
}

export interface McpConfig {
  /** Defaults to `streamable-http` when `url` is set, `stdio` when `command` is. */
  type: McpType
  url?: string
  command?: string
  args?: string[]
  /** Values may be `$NAME` references. */
  env?: Record<string, string>
  /** Values may be `$NAME` references. */
  headers?: Record<string, string>
  oauth?: OAuthConfig
  /** Defaults to `user`. */
  auth_scope: McpAuthScope
  /** Per tool call, default 60000. */
  timeout_ms?: number
}

export interface ProviderConfig {
  id: string
  /** As written, or the catalog's default model for a catalog id. Passed to the provider as is. */
  model: string
  /** A `$NAME` reference or a literal key. */
  key?: string
  secret_ref?: string
  base_url?: string
}

export interface NetworkConfig {
  allowed?: string[]
  denied?: string[]
}

export interface ToolsConfig {
  pre_approved?: string[]
  allowed?: string[]
  denied?: string[]
}

export interface AgentConfig {
  name: string
  description?: string
  /** As written, relative to the project root (see `agentDir`). */
  dir: string
  /** Tried in order; may be empty. */
  providers: ProviderConfig[]
  skills?: {mcp?: Record<string, McpConfig>}
  network?: NetworkConfig
  tools?: ToolsConfig
}

export interface LobuConfig {
  project?: {id?: string}
  gateway?: {port?: number}
  /** In file order. */
  agents: Record<string, AgentConfig>
}

export interface Project {
  /** The directory that holds lobu.toml (absolute). */
  root: string
  /** Absolute path of lobu.toml. */
  file: string
  /** The file as issues name it: relative to the working directory (e.g. `lobu.toml`). */
  displayFile?: string
  config: LobuConfig
  /** Warnings of the file (compatibility keys, literal keys). Missing `$NAME`s are not here: see resolveEnvRefs. */
  warnings: ConfigIssue[]
  /** The project's .env merged under the process environment (a non-empty process value wins). */
  env: Record<string, string>
}

/**
 * The desired state of a project: what lobu.toml and the agent directories declare, with every
 * `$NAME` resolved client-side. Secret values leave the agent specs: a provider key becomes a
 * reference to an org secret, and the value travels once in `secrets` to be stored encrypted.
 */
import type {McpSpec, ProviderSpec} from '../contract/agents.js'
import type {DesiredAgent, DesiredState} from '../contract/apply.js'
import {MissingEnvError, parseEnvRef, readAgentFiles, resolveEnvRefs} from '../config/index.js'
import {projectIdOf} from '../config/project-id.js'
import type {AgentConfig, McpConfig, Project, ProviderConfig} from '../config/types.js'

type EnvLike = Record<string, string | undefined>

/** `NAME` of a `$NAME` (or `${NAME}`) reference; undefined for a literal. */
export function envRefName(value: string): string | undefined {
  return parseEnvRef(value.trim())
}

/** `AGENT_SUPPORT_OPENAI_KEY`: the secret that holds a literal key written in lobu.toml. */
export function literalSecretName(...parts: string[]): string {
  return parts.map((p) => p.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '')).join('_')
}

class Resolver {
  readonly secrets: Record<string, string> = {}

  /** `values`: every `$NAME` of the project that is set (missing ones were reported already). */
  constructor(private readonly values: Record<string, string>) {}

  /** Record the value of `$name` as a secret; an unset one stays a bare reference. */
  private take(name: string): void {
    const value = this.values[name]
    if (value !== undefined) this.secrets[name] = value
  }

  /** Store a literal `value` as secret `name`; a clash with another value gets a suffix. */
  private literal(name: string, value: string): string {
    let candidate = name
    for (let i = 2; this.secrets[candidate] !== undefined && this.secrets[candidate] !== value; i++) candidate = `${name}_${i}`
    this.secrets[candidate] = value
    return candidate
  }

  /** A `$NAME` or a literal secret → the name of the org secret that holds its value. */
  secret(raw: string, literalName: string): string {
    const ref = envRefName(raw)
    if (!ref) return this.literal(literalName, raw)
    this.take(ref)
    return ref
  }

  /** MCP env/headers: a `$NAME` value stays a reference in the spec; its value becomes a secret. */
  refs(map: Record<string, string> | undefined): void {
    for (const value of Object.values(map ?? {})) {
      const ref = envRefName(value)
      if (ref) this.take(ref)
    }
  }
}

function buildProvider(raw: ProviderConfig, agentId: string, r: Resolver): ProviderSpec {
  const provider: ProviderSpec = {id: raw.id, model: raw.model, key: {kind: 'none'}}
  if (raw.base_url) provider.baseUrl = raw.base_url
  if (raw.key) provider.key = {kind: 'secret', name: r.secret(raw.key, literalSecretName('agent', agentId, raw.id, 'key'))}
  else if (raw.secret_ref) provider.key = {kind: 'secret', name: raw.secret_ref}
  return provider
}

function buildMcp(raw: McpConfig, agentId: string, mcpId: string, r: Resolver): McpSpec {
  const spec: McpSpec = {type: raw.type}
  if (raw.url !== undefined) spec.url = raw.url
  if (raw.command !== undefined) spec.command = raw.command
  if (raw.args !== undefined) spec.args = [...raw.args]
  if (raw.env !== undefined) {
    spec.env = {...raw.env}
    r.refs(raw.env)
  }
  if (raw.headers !== undefined) {
    spec.headers = {...raw.headers}
    r.refs(raw.headers)
  }
  if (raw.oauth) {
    const o = raw.oauth
    spec.oauth = {authUrl: o.auth_url, tokenUrl: o.token_url}
    if (o.client_id !== undefined) spec.oauth.clientId = o.client_id
    if (o.client_secret) spec.oauth.clientSecretRef = r.secret(o.client_secret, literalSecretName('agent', agentId, 'mcp', mcpId, 'client_secret'))
    if (o.scopes !== undefined) spec.oauth.scopes = [...o.scopes]
  }
  if (raw.auth_scope) spec.authScope = raw.auth_scope
  if (raw.timeout_ms !== undefined) spec.timeoutMs = raw.timeout_ms
  return spec
}

function buildAgent(id: string, raw: AgentConfig, r: Resolver): DesiredAgent {
  const mcp: Record<string, McpSpec> = {}
  for (const [mcpId, server] of Object.entries(raw.skills?.mcp ?? {})) mcp[mcpId] = buildMcp(server, id, mcpId, r)
  const agent: DesiredAgent = {
    id,
    name: raw.name,
    files: {skills: []},
    providers: raw.providers.map((p) => buildProvider(p, id, r)),
    mcp,
    network: {allowed: [...(raw.network?.allowed ?? [])], denied: [...(raw.network?.denied ?? [])]},
    tools: {
      preApproved: [...(raw.tools?.pre_approved ?? [])],
      allowed: [...(raw.tools?.allowed ?? [])],
      denied: [...(raw.tools?.denied ?? [])],
    },
  }
  if (raw.description !== undefined) agent.description = raw.description
  return agent
}

/** The process environment over the project's .env: a non-empty process value wins. */
function mergedEnv(project: Project, env: EnvLike): EnvLike {
  const merged: EnvLike = {...project.env}
  for (const [name, value] of Object.entries(env)) if (value) merged[name] = value
  return merged
}

/**
 * Build the desired state of a loaded, validated project. Every `$NAME` is resolved from `env`
 * over the project's .env; when any is missing this throws MissingEnvError (exit 2) listing all
 * of them with their place in lobu.toml, before anything is sent.
 */
export interface DesiredStateOptions {
  /**
   * Called with the missing references instead of throwing (`lobu run`: a fresh project without
   * a key still boots; the provider is applied without a value and shown as missing). Without
   * it a missing reference throws MissingEnvError (exit 2, `lobu apply`).
   */
  onMissing?: (error: MissingEnvError) => void
}

export async function buildDesiredState(project: Project, env: EnvLike = process.env, opts: DesiredStateOptions = {}): Promise<DesiredState> {
  const {missing, values} = resolveEnvRefs(project, mergedEnv(project, env))
  if (missing.length > 0) {
    const error = new MissingEnvError(missing, project.root)
    if (!opts.onMissing) throw error
    opts.onMissing(error)
  }
  const r = new Resolver(values)
  const agents = Object.entries(project.config.agents).map(([id, raw]) => buildAgent(id, raw, r))
  for (const agent of agents) {
    const files = await readAgentFiles(project, agent.id)
    agent.files = {skills: files.skills.map((s) => ({name: s.name, content: s.content}))}
    if (files.identity !== undefined) agent.files.identity = files.identity
    if (files.soul !== undefined) agent.files.soul = files.soul
    if (files.user !== undefined) agent.files.user = files.user
  }
  return {project: projectIdOf(project).id, agents, secrets: r.secrets}
}

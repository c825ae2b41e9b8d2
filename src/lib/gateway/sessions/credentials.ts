/**
 * Which provider and key serve a turn (docs/lobu-toml.md, providers):
 *
 *   1. the user's own grant for one of the agent's providers (OAuth / user API key), unless it
 *      is expired and cannot be refreshed;
 *   2. the agent's declared providers, in order, whose key resolves (an org secret decrypted
 *      with the install key, or an `env` key of the gateway's environment; keyless: ollama);
 *   3. the gateway's system providers, in catalog order.
 *
 * An expired grant is skipped, never an error: it cannot mask a valid declared key.
 * Nothing usable → NO_MODEL_CONFIGURED, whose message says how to fix it.
 */
import {CATALOG, catalogEntry} from '../../contract/providers.js'
import {decryptSecret} from '../crypto/index.js'
import type {EgressPolicy} from '../egress/index.js'
import {findUserProviderKey} from '../oauth/grants.js'
import {ProviderError, resolveTarget, type ProviderTarget} from '../providers/index.js'
import type {AgentRow, ProviderSpec, StoreTx} from '../store/types.js'

/** A user's own credential for a provider of an agent. */
export interface UserGrant {
  providerId: string
  apiKey: string
  expiresAt?: Date | null
  /** An expired grant that can be refreshed is still usable (the refresh happens before the call). */
  refreshable?: boolean
}

export interface GrantLookup {
  store: StoreTx
  /** To decrypt a stored grant. */
  installKey: Buffer
  orgId: string
  userId: string
  agentId: string
  providerId: string
}

/**
 * The user's own grant for (agent, provider): the API key they stored with
 * `lobu oauth connect PROVIDER --with-key` (see ../oauth/grants.ts).
 */
export async function userGrantFor(lookup: GrantLookup): Promise<UserGrant | undefined> {
  return findUserProviderKey(lookup.store, lookup.installKey, lookup)
}

export type GrantFinder = (lookup: GrantLookup) => Promise<UserGrant | undefined>

/**
 * What the statement that loaded the turn already read (sessions' loadTurns), so that choosing
 * the key costs no query of its own.
 */
export interface PrefetchedCredentials {
  /** Org secrets by name (their ciphertext), for every name in `names`. */
  secrets: ReadonlyMap<string, string>
  /** The secret names that were looked up: one of them absent from `secrets` is not stored. */
  names: ReadonlySet<string>
  /** Providers the user holds a grant of for this agent: the others need no grant lookup. */
  grantTargets: ReadonlySet<string>
}

export interface CredentialContext {
  store: StoreTx
  /** The gateway's environment: `env` key sources and `<ID>_BASE_URL` overrides. */
  env: NodeJS.ProcessEnv
  installKey: Buffer
  systemProviders: readonly ProviderSpec[]
  /** Defaults to userGrantFor. */
  grants?: GrantFinder
  /** Secrets and grant targets read beforehand (only used with the default grant lookup). */
  prefetched?: PrefetchedCredentials
  /**
   * The egress guard: a provider whose `baseUrl` the agent's configuration sets (a tenant's
   * choice) is called through it; the catalog's URLs and the operator's `<ID>_BASE_URL` are not.
   */
  egress?: EgressPolicy
  now?: Date
}

/** The secret names an agent's providers refer to. */
export function secretNamesOf(providers: readonly ProviderSpec[]): Set<string> {
  const names = new Set<string>()
  for (const p of providers) if (p.key.kind === 'secret') names.add(p.key.name)
  return names
}

export type CredentialSource = 'grant' | 'declared' | 'system'

export interface ChosenProvider {
  source: CredentialSource
  spec: ProviderSpec
  target: ProviderTarget
}

export type CredentialResult = {ok: true; provider: ChosenProvider} | {ok: false; skipped: string[]}

function grantUsable(grant: UserGrant, now: Date): boolean {
  if (!grant.apiKey) return false
  if (!grant.expiresAt || grant.expiresAt.getTime() > now.getTime()) return true
  return Boolean(grant.refreshable)
}

function describeKey(spec: ProviderSpec): string {
  if (spec.key.kind === 'secret') return `the org secret ${spec.key.name} is not stored`
  if (spec.key.kind === 'env') return `${spec.key.name} is not set in the gateway's environment`
  return 'it has no key'
}

/**
 * Decrypted provider keys by ciphertext, per install key: a turn does not decrypt its key
 * again. A ciphertext is never re-used for another value (a fresh IV per encryption), so an
 * entry cannot go stale: a changed secret has a new ciphertext, and the old entry ages out.
 * Held in memory only, like the key during a turn; never logged.
 */
const decrypted = new WeakMap<Buffer, Map<string, string>>()
const DECRYPTED_MAX = 256

function decryptCached(installKey: Buffer, ciphertext: string): string {
  let cache = decrypted.get(installKey)
  if (!cache) decrypted.set(installKey, (cache = new Map()))
  let value = cache.get(ciphertext)
  if (value === undefined) {
    value = decryptSecret(installKey, ciphertext)
    if (cache.size >= DECRYPTED_MAX) cache.delete(cache.keys().next().value as string)
    cache.set(ciphertext, value)
  }
  return value
}

/** The key of a declared provider, or why there is none. `''` = keyless (ollama). */
async function keyOf(ctx: CredentialContext, orgId: string, spec: ProviderSpec): Promise<{key: string} | {skip: string}> {
  const {key} = spec
  if (key.kind === 'secret') {
    const known = ctx.prefetched?.names.has(key.name)
    const ciphertext = known ? ctx.prefetched?.secrets.get(key.name) : (await ctx.store.secrets.get(orgId, key.name))?.ciphertext
    if (ciphertext === undefined) return {skip: `provider "${spec.id}": ${describeKey(spec)}`}
    try {
      const value = decryptCached(ctx.installKey, ciphertext)
      return value ? {key: value} : {skip: `provider "${spec.id}": the org secret ${key.name} is empty`}
    } catch {
      return {skip: `provider "${spec.id}": the org secret ${key.name} cannot be decrypted with this install key`}
    }
  }
  if (spec.id === 'ollama') {
    // Keyless. OLLAMA_HOST (a host, never a key) only moves the base URL.
    if (key.kind === 'none' || ctx.env[key.name]) return {key: ''}
    return {skip: `provider "ollama": ${describeKey(spec)}`}
  }
  if (key.kind === 'env') {
    const value = ctx.env[key.name]
    return value ? {key: value} : {skip: `provider "${spec.id}": ${describeKey(spec)}`}
  }
  return {skip: `provider "${spec.id}": it has no key (add key = "$${catalogEntry(spec.id)?.keyEnv[0] ?? 'API_KEY'}" in lobu.toml)`}
}

function target(spec: ProviderSpec, env: NodeJS.ProcessEnv, apiKey: string, egress: EgressPolicy | undefined): ProviderTarget | {skip: string} {
  try {
    const t = resolveTarget({...spec, key: {kind: 'none'}}, env, apiKey || undefined)
    if (!apiKey) delete t.apiKey
    if (spec.baseUrl && egress?.guarded) t.egress = egress
    return t
  } catch (err) {
    return {skip: err instanceof ProviderError ? err.message : `provider "${spec.id}": ${String(err)}`}
  }
}

/** Choose the provider and key of a turn of `agent` for `userId`. */
export async function resolveCredentials(ctx: CredentialContext, agent: AgentRow, userId: string): Promise<CredentialResult> {
  const now = ctx.now ?? new Date()
  const grants = ctx.grants ?? userGrantFor
  const declared = agent.spec.providers ?? []
  const skipped: string[] = []

  // 1. The user's own grant for one of the agent's providers.
  const skipGrant = (providerId: string) => !ctx.grants && ctx.prefetched !== undefined && !ctx.prefetched.grantTargets.has(providerId)
  for (const spec of declared) {
    if (skipGrant(spec.id)) continue
    const grant = await grants({store: ctx.store, installKey: ctx.installKey, orgId: agent.orgId, userId, agentId: agent.agentId, providerId: spec.id})
    if (!grant || !grantUsable(grant, now)) continue
    const t = target(spec, ctx.env, grant.apiKey, ctx.egress)
    if ('skip' in t) continue
    return {ok: true, provider: {source: 'grant', spec, target: t}}
  }

  // 2. Declared providers, in order.
  for (const spec of declared) {
    const key = await keyOf(ctx, agent.orgId, spec)
    if ('skip' in key) {
      skipped.push(key.skip)
      continue
    }
    const t = target(spec, ctx.env, key.key, ctx.egress)
    if ('skip' in t) {
      skipped.push(t.skip)
      continue
    }
    return {ok: true, provider: {source: 'declared', spec, target: t}}
  }

  // 3. System providers (the default agent declares exactly these: no need to try them twice).
  const tried = new Set(declared.map((p) => `${p.id}\u0000${p.model}\u0000${JSON.stringify(p.key)}`))
  for (const spec of ctx.systemProviders) {
    if (tried.has(`${spec.id}\u0000${spec.model}\u0000${JSON.stringify(spec.key)}`)) continue
    const key = await keyOf(ctx, agent.orgId, spec)
    if ('skip' in key) continue
    const t = target(spec, ctx.env, key.key, ctx.egress)
    if ('skip' in t) continue
    return {ok: true, provider: {source: 'system', spec, target: t}}
  }
  return {ok: false, skipped}
}

export interface NoModelDetails {
  code: 'NO_MODEL_CONFIGURED'
  message: string
  hint: string
  settingsUrl: string
}

/** The key variables that would enable a system provider, in catalog order. */
export function systemKeyVariables(): string[] {
  const names: string[] = []
  for (const entry of CATALOG) names.push(...(entry.id === 'ollama' ? ['OLLAMA_HOST'] : entry.keyEnv))
  return names
}

/** The key variables named by the skip reasons of declared providers (secret or env variable). */
function missingVariables(skipped: readonly string[]): string[] {
  const names = new Set<string>()
  for (const reason of skipped) {
    const m = /the org secret ([A-Za-z_][A-Za-z0-9_]*) is not stored|([A-Za-z_][A-Za-z0-9_]*) is not set in the gateway's environment/.exec(reason)
    const name = m?.[1] ?? m?.[2]
    if (name) names.add(name)
  }
  return [...names]
}

/**
 * The NO_MODEL_CONFIGURED error: names the agent and what was skipped. When the agent declares
 * providers whose key is missing (`key = "$OPENAI_API_KEY"` applied while that variable was
 * unset), it says so and names the variables; only an agent that declares nothing gets the
 * system variables and the lobu.toml snippet.
 */
export function noModelConfigured(agentId: string, skipped: readonly string[], gatewayUrl: string): NoModelDetails {
  const settingsUrl = `${gatewayUrl.replace(/\/+$/, '')}/api/v1/agents/${encodeURIComponent(agentId)}`
  if (skipped.length > 0) {
    const variables = missingVariables(skipped)
    const lines = [`no model is available for agent "${agentId}": its providers are declared in lobu.toml but have no key`]
    for (const reason of skipped) lines.push(`  skipped ${reason}`)
    const vars = variables.length > 0 ? variables.join(' or ') : 'the key variable'
    lines.push(`${vars} ${variables.length > 1 ? 'were' : 'was'} not set when lobu.toml was applied.`)
    return {
      code: 'NO_MODEL_CONFIGURED',
      message: lines.join('\n'),
      hint: `Set ${variables[0] ?? 'it'} in the environment or in the project's .env, then run \`lobu apply\` (or restart \`lobu run\`)`,
      settingsUrl,
    }
  }
  const lines = [`no model is configured for agent "${agentId}": it declares no provider and the gateway has no system provider`]
  lines.push(`Set one of ${systemKeyVariables().join(', ')} in the gateway's environment (a system provider), or declare a provider in lobu.toml:`)
  lines.push('')
  lines.push(`  [[agents.${agentId}.providers]]`)
  lines.push('  id = "openai"')
  lines.push('  model = "gpt-4o-mini"')
  lines.push('  key = "$OPENAI_API_KEY"')
  return {
    code: 'NO_MODEL_CONFIGURED',
    message: lines.join('\n'),
    hint: 'export OPENAI_API_KEY=… (or put it in the project\'s .env), then restart `lobu run` or run `lobu apply`',
    settingsUrl,
  }
}

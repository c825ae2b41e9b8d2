/**
 * System providers: at boot, each catalog provider whose key variable is
 * set in the gateway's environment becomes a provider of every org's `default` agent.
 */
import {DEFAULT_AGENT_ID} from '../../contract/ids.js'
import {CATALOG, systemKeyVariable} from '../../contract/providers.js'
import type {AgentSpec, ProviderSpec, StoreTx} from '../store/types.js'


/** The system providers for an environment, in catalog order. Never assumes a key. */
export function computeSystemProviders(env: NodeJS.ProcessEnv): ProviderSpec[] {
  const providers: ProviderSpec[] = []
  for (const entry of CATALOG) {
    const variable = systemKeyVariable(entry, env)
    if (!variable) continue
    // ollama is keyless: OLLAMA_HOST only enables it (the base URL resolves from it at call time).
    providers.push({id: entry.id, model: entry.defaultModel, key: entry.id === 'ollama' ? {kind: 'none'} : {kind: 'env', name: variable}})
  }
  return providers
}

export function defaultAgentSpec(providers: ProviderSpec[]): AgentSpec {
  return {
    name: 'Default',
    description: "The organization's default agent; it uses the gateway's system providers.",
    files: {skills: []},
    providers,
    mcp: {},
    network: {allowed: [], denied: []},
    tools: {preApproved: [], allowed: [], denied: []},
  }
}

/**
 * Make sure the org has its `default` agent and that its providers are exactly the system
 * providers (recomputed each boot). Other fields of an existing default agent are kept.
 */
export async function ensureDefaultAgent(tx: StoreTx, orgId: string, providers: ProviderSpec[]): Promise<void> {
  const existing = await tx.agents.get(orgId, DEFAULT_AGENT_ID)
  if (!existing) {
    await tx.agents.upsert({orgId, agentId: DEFAULT_AGENT_ID, spec: defaultAgentSpec(providers), managedBy: null})
    return
  }
  if (canonicalJson(existing.spec.providers) === canonicalJson(providers)) return
  await tx.agents.upsert({orgId, agentId: DEFAULT_AGENT_ID, spec: {...existing.spec, providers}, managedBy: existing.managedBy})
}

/** JSON with object keys sorted (jsonb does not keep key order). */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  )
}

/** Apply the system providers to every org's default agent (creating missing ones). */
export async function applySystemProviders(tx: StoreTx, providers: ProviderSpec[]): Promise<void> {
  for (const org of await tx.orgs.list()) await ensureDefaultAgent(tx, org.id, providers)
}

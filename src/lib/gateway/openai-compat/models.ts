/**
 * Agents as OpenAI models: only the agents that can answer the caller are models. An agent
 * without a usable provider (no declared key resolves, no grant of the caller's, no system
 * provider) would fail every completion with NO_MODEL_CONFIGURED, so it is not listed and
 * `GET /v1/models/{id}` does not find it.
 */
import {resolveCredentials, secretNamesOf, userGrantFor, type PrefetchedCredentials} from '../sessions/credentials.js'
import type {Services} from '../http/types.js'
import type {AgentRow, ProviderSpec} from '../store/types.js'

export interface OpenAIModel {
  id: string
  object: 'model'
  created: number
  owned_by: string
}

export function modelOf(agent: AgentRow, orgSlug: string): OpenAIModel {
  return {id: agent.agentId, object: 'model', created: Math.floor(agent.createdAt.getTime() / 1000), owned_by: orgSlug}
}

type Deps = Pick<Services, 'store' | 'env' | 'installKey'> & {systemProviders: readonly ProviderSpec[]}

/** The org's secrets read once for every agent checked. */
async function prefetchSecrets(deps: Deps, orgId: string, agents: readonly AgentRow[]): Promise<PrefetchedCredentials> {
  const rows = await deps.store.secrets.list(orgId)
  const names = new Set<string>(rows.map((r) => r.name))
  for (const agent of agents) for (const name of secretNamesOf(agent.spec.providers ?? [])) names.add(name)
  for (const name of secretNamesOf(deps.systemProviders)) names.add(name)
  return {secrets: new Map(rows.map((r) => [r.name, r.ciphertext])), names, grantTargets: new Set()}
}

/** Whether a turn of `agent` for `userId` would find a provider and key. */
async function canAnswer(deps: Deps, agent: AgentRow, userId: string, prefetched: PrefetchedCredentials): Promise<boolean> {
  const ctx = {store: deps.store, env: deps.env, installKey: deps.installKey, systemProviders: deps.systemProviders, prefetched}
  // Declared and system keys first (no query); the caller's own grants only when they are all missing.
  if ((await resolveCredentials({...ctx, grants: async () => undefined}, agent, userId)).ok) return true
  if ((agent.spec.providers ?? []).length === 0) return false
  return (await resolveCredentials({...ctx, grants: userGrantFor}, agent, userId)).ok
}

/** The agents of the org that can answer the user, in the store's order. */
export async function answeringAgents(deps: Deps, orgId: string, userId: string): Promise<AgentRow[]> {
  const agents = await deps.store.agents.list(orgId)
  if (agents.length === 0) return []
  const prefetched = await prefetchSecrets(deps, orgId, agents)
  const answering = await Promise.all(agents.map((a) => canAnswer(deps, a, userId, prefetched)))
  return agents.filter((_, i) => answering[i])
}

/** One agent of the org if it exists and can answer the user. */
export async function answeringAgent(deps: Deps, orgId: string, userId: string, agentId: string): Promise<AgentRow | undefined> {
  const agent = await deps.store.agents.get(orgId, agentId)
  if (!agent) return undefined
  const prefetched = await prefetchSecrets(deps, orgId, [agent])
  return (await canAnswer(deps, agent, userId, prefetched)) ? agent : undefined
}

/**
 * Agents of an org (docs/SECURITY.md S4/S5): every query takes the caller's org id; a missing agent and another
 * org's answer the same 403.
 */
import {DEFAULT_AGENT_ID} from '../../contract/ids.js'
import {catalogEntry} from '../../contract/providers.js'
import type {AgentSpec, StoreTx} from '../store/types.js'
import {badRequest, conflict, forbidden} from '../http/errors.js'
import type {AgentPutBody} from './schema.js'
import type {AgentDetail, AgentSummary} from '../../contract/api.js'
import {toAgentDetail, toAgentSummary} from './view.js'

/** The one answer for "no such agent" and "not your agent": same status, same body. */
export function agentNotAccessible(agentId: string) {
  return forbidden(`agent "${agentId}" does not exist or is not accessible with this token`, 'GET /api/v1/agents lists the agents of your organization')
}

/**
 * An `env` key source reads the gateway's own environment. A tenant may only point at the
 * catalog key variable of that same catalog provider, without a base URL of its own, so a
 * hand-made agent can never send an arbitrary gateway variable to a server of its choosing.
 */
export function checkEnvKeySources(spec: Pick<AgentSpec, 'providers'>): void {
  spec.providers.forEach((provider, index) => {
    if (provider.key.kind !== 'env') return
    const entry = catalogEntry(provider.id)
    const allowed = entry ? (entry.id === 'ollama' ? ['OLLAMA_HOST'] : entry.keyEnv) : []
    if (!allowed.includes(provider.key.name) || provider.baseUrl) {
      throw badRequest(
        'INVALID_REQUEST',
        `providers.${index}.key: an env key source must be the catalog key variable of the same provider (${allowed.join(', ') || 'none for this id'}) and cannot be combined with baseUrl`,
        'store the key as an org secret (lobu apply does this) and use {"kind":"secret","name":…}',
      )
    }
  })
}

export class AgentService {
  constructor(private readonly store: StoreTx) {}

  async list(orgId: string): Promise<AgentSummary[]> {
    const rows = await this.store.agents.list(orgId)
    return rows.map(toAgentSummary).sort((a, b) => a.id.localeCompare(b.id))
  }

  async get(orgId: string, agentId: string): Promise<AgentDetail> {
    const row = await this.store.agents.get(orgId, agentId)
    if (!row) throw agentNotAccessible(agentId)
    return toAgentDetail(row)
  }

  /**
   * Create or replace a hand-made agent. A new agent has managedBy null; an existing agent keeps
   * its managedBy (the project that applies it stays its owner).
   */
  async put(orgId: string, agentId: string, body: AgentPutBody): Promise<{created: boolean; agent: AgentSummary}> {
    const spec: AgentSpec = {...body, name: body.name ?? agentId}
    checkEnvKeySources(spec)
    const existing = await this.store.agents.get(orgId, agentId)
    const row = await this.store.agents.upsert({orgId, agentId, spec, managedBy: existing?.managedBy ?? null})
    return {created: !existing, agent: toAgentSummary(row)}
  }

  async delete(orgId: string, agentId: string): Promise<{id: string; deleted: true}> {
    if (agentId === DEFAULT_AGENT_ID) {
      throw conflict('DEFAULT_AGENT', 'the default agent of an organization cannot be deleted', 'edit it instead, or set provider keys in the gateway environment')
    }
    const deleted = await this.store.agents.delete(orgId, agentId)
    if (!deleted) throw agentNotAccessible(agentId)
    return {id: agentId, deleted: true}
  }
}

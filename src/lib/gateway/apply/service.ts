/**
 * Plan and apply (gateway side). A plan compares a project's desired state with the org's
 * stored agents and secrets and lists field-level changes; apply re-checks, inside ONE store
 * transaction, that what the plan read is unchanged (its fingerprint: see fingerprintOf) and
 * then writes every change, or nothing (docs/SECURITY.md S14).
 *
 * The service takes the store and a secret codec: tests inject failures by wrapping them,
 * production code has no test-only branches.
 */
import {createHash} from 'node:crypto'

import type {ApplyRequest, ApplyResult, DesiredAgent, DesiredState, Plan, PlanChange, PlanSummary} from '../../contract/apply.js'
import {DEFAULT_AGENT_ID} from '../../contract/ids.js'
import type {AgentRow, AgentSpec, SecretRow, Store, StoreTx} from '../store/types.js'
import {encryptSecret, keyedHash} from '../crypto/index.js'
import {HttpError, conflict} from '../http/errors.js'
import {newId} from '../store/ids.js'
import {canonicalJson, diffSpecs} from './diff.js'

/** How secret values are sealed (docs/SECURITY.md S6) and compared without decrypting. */
export interface SecretCodec {
  encrypt(value: string): string
  keyedHash(value: string): string
}

/** The install key's codec: AES-256-GCM at rest (docs/SECURITY.md S6), keyed hash for comparisons. */
export function secretCodec(installKey: Buffer): SecretCodec {
  return {
    encrypt: (value) => encryptSecret(installKey, value),
    keyedHash: (value) => keyedHash(installKey, value),
  }
}

export interface ApplyServiceOptions {
  store: Store
  codec: SecretCodec
  /** How long a plan can be applied by id (default 10 minutes). */
  planTtlMs?: number
  /** Most plans kept in memory at once; the oldest are dropped first (default 1000). */
  maxPlans?: number
  now?: () => number
}

interface OrgState {
  agents: AgentRow[]
  secrets: SecretRow[]
}

type AgentOp =
  | {action: 'create' | 'update'; id: string; spec: AgentSpec; managedBy: string | null}
  | {action: 'delete'; id: string}
type SecretOp = {name: string; value: string; keyedHash: string}

interface Computed {
  changes: PlanChange[]
  orphans: string[]
  warnings: string[]
  agentOps: AgentOp[]
  secretOps: SecretOp[]
}

interface StoredPlan {
  orgId: string
  desired: DesiredState
  prune: boolean
  fingerprint: string
  expiresAt: number
}


export function summarize(changes: PlanChange[]): PlanSummary {
  const summary: PlanSummary = {create: 0, update: 0, delete: 0, noop: 0}
  for (const c of changes) summary[c.action]++
  return summary
}

/**
 * Hash of what a plan of `desired` reads and writes: the agents it declares (by id, whoever owns
 * them), the agents its project manages (prune candidates), and the secrets it sets or its agents
 * reference (with their keyed hashes). Applies of different projects in one org therefore do not
 * invalidate each other's plans, while anything a plan depends on still makes it stale.
 */
export function fingerprintOf(state: OrgState, desired: DesiredState): string {
  const declared = new Set(desired.agents.map((a) => a.id))
  const agents = state.agents
    .filter((a) => declared.has(a.agentId) || a.managedBy === desired.project)
    .sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0))
    .map((a) => ({id: a.agentId, managedBy: a.managedBy, spec: a.spec}))
  const names = new Set([...Object.keys(desired.secrets), ...desired.agents.flatMap((a) => secretRefs(a).map((r) => r.name))])
  const secrets = state.secrets
    .filter((s) => names.has(s.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((s) => ({name: s.name, keyedHash: s.keyedHash}))
  return createHash('sha256').update(canonicalJson({project: desired.project, agents, secrets})).digest('hex')
}

function specOf(agent: DesiredAgent): AgentSpec {
  const {id: _id, ...spec} = agent
  return spec
}

/** Names of the org secrets an agent's config refers to, with where (for warnings). */
function secretRefs(agent: DesiredAgent): {name: string; where: string}[] {
  const refs: {name: string; where: string}[] = []
  for (const p of agent.providers) {
    if (p.key.kind === 'secret') refs.push({name: p.key.name, where: `provider "${p.id}"`})
  }
  for (const [id, server] of Object.entries(agent.mcp)) {
    if (server.oauth?.clientSecretRef) refs.push({name: server.oauth.clientSecretRef, where: `MCP server "${id}"`})
  }
  return refs
}

/** The changes that turn `state` into `desired`. Pure apart from hashing secret values. */
export function computeChanges(state: OrgState, desired: DesiredState, prune: boolean, codec: SecretCodec): Computed {
  const current = new Map(state.agents.map((a) => [a.agentId, a]))
  const stored = new Map(state.secrets.map((s) => [s.name, s]))
  const out: Computed = {changes: [], orphans: [], warnings: [], agentOps: [], secretOps: []}

  for (const agent of desired.agents) {
    const spec = specOf(agent)
    const existing = current.get(agent.id)
    if (!existing) {
      out.changes.push({kind: 'agent', id: agent.id, action: 'create', fields: diffSpecs(undefined, spec)})
      out.agentOps.push({action: 'create', id: agent.id, spec, managedBy: desired.project})
      continue
    }
    if (existing.managedBy !== null && existing.managedBy !== desired.project) {
      throw conflict(
        'AGENT_CONFLICT',
        `agent "${agent.id}" is managed by project "${existing.managedBy}", not "${desired.project}"`,
        'Rename the agent in lobu.toml, or delete it from that project first.',
      )
    }
    if (canonicalJson(existing.spec) === canonicalJson(spec)) {
      out.changes.push({kind: 'agent', id: agent.id, action: 'noop', fields: []})
      continue
    }
    out.changes.push({kind: 'agent', id: agent.id, action: 'update', fields: diffSpecs(existing.spec, spec)})
    // A hand-made (or default) agent a project declares is updated but stays unowned: prune never takes it.
    out.agentOps.push({action: 'update', id: agent.id, spec, managedBy: existing.managedBy})
  }

  const declared = new Set(desired.agents.map((a) => a.id))
  for (const row of state.agents) {
    if (declared.has(row.agentId) || row.agentId === DEFAULT_AGENT_ID) continue
    if (row.managedBy === null || row.managedBy !== desired.project) continue
    if (prune) {
      out.changes.push({kind: 'agent', id: row.agentId, action: 'delete', fields: []})
      out.agentOps.push({action: 'delete', id: row.agentId})
    } else {
      out.orphans.push(row.agentId)
    }
  }

  for (const name of Object.keys(desired.secrets).sort()) {
    const value = desired.secrets[name]!
    const keyedHash = codec.keyedHash(value)
    const existing = stored.get(name)
    if (existing && existing.keyedHash === keyedHash) {
      out.changes.push({kind: 'secret', id: name, action: 'noop', fields: []})
      continue
    }
    out.changes.push({kind: 'secret', id: name, action: existing ? 'update' : 'create', fields: [{path: 'value', changed: true}]})
    out.secretOps.push({name, value, keyedHash})
  }

  for (const agent of desired.agents) {
    for (const ref of secretRefs(agent)) {
      if (!(ref.name in desired.secrets) && !stored.has(ref.name)) {
        out.warnings.push(`agent "${agent.id}" ${ref.where}: secret "${ref.name}" is not set on the gateway`)
      }
    }
  }
  return out
}

async function loadState(tx: StoreTx, orgId: string): Promise<OrgState> {
  const [agents, secrets] = await Promise.all([tx.agents.list(orgId), tx.secrets.list(orgId)])
  return {agents, secrets}
}


export const planNotFound = () =>
  new HttpError(404, 'PLAN_NOT_FOUND', 'this plan is unknown or has expired', 'Make a new plan and apply it.')

export const planStale = () =>
  conflict('PLAN_STALE', "the project's agents or secrets changed since the plan was made", 'Make a new plan and apply it.')

export class ApplyService {
  private readonly store: Store
  private readonly codec: SecretCodec
  private readonly ttl: number
  private readonly maxPlans: number
  private readonly now: () => number
  private readonly plans = new Map<string, StoredPlan>()

  constructor(options: ApplyServiceOptions) {
    this.store = options.store
    this.codec = options.codec
    this.ttl = options.planTtlMs ?? 10 * 60_000
    this.maxPlans = options.maxPlans ?? 1000
    this.now = options.now ?? Date.now
  }

  /** Plan `desired` against the org's current state; the plan can be applied by id for a while. */
  async plan(orgId: string, desired: DesiredState, options: {prune?: boolean} = {}): Promise<Plan> {
    const prune = options.prune ?? false
    const state = await this.store.transaction((tx) => loadState(tx, orgId))
    const fingerprint = fingerprintOf(state, desired)
    const computed = computeChanges(state, desired, prune, this.codec)
    const planId = newId('plan')
    this.remember(planId, {orgId, desired, prune, fingerprint, expiresAt: this.now() + this.ttl})
    return {
      planId,
      fingerprint,
      project: desired.project,
      prune,
      changes: computed.changes,
      summary: summarize(computed.changes),
      orphans: computed.orphans,
      warnings: computed.warnings,
    }
  }

  /** Apply a plan (by id, or a desired state with the fingerprint it was planned against). */
  async apply(orgId: string, request: ApplyRequest): Promise<ApplyResult> {
    let desired: DesiredState
    let prune: boolean
    if ('planId' in request) {
      const stored = this.recall(request.planId, orgId)
      if (!stored) throw planNotFound()
      if (stored.fingerprint !== request.fingerprint) throw planStale()
      desired = stored.desired
      prune = stored.prune
    } else {
      desired = request.desired
      prune = request.prune ?? false
    }

    const result = await this.store.transaction(async (tx) => {
      // Applies of one org are serialised across connections (PostgreSQL): a second apply waits
      // here, then sees the first one's writes and fails its fingerprint check instead of
      // overwriting them. Released at commit or rollback.
      await tx.locks.applyOrg(orgId)
      const state = await loadState(tx, orgId)
      if (fingerprintOf(state, desired) !== request.fingerprint) throw planStale()
      const computed = computeChanges(state, desired, prune, this.codec)
      for (const op of computed.secretOps) {
        await tx.secrets.upsert({orgId, name: op.name, ciphertext: this.codec.encrypt(op.value), keyedHash: op.keyedHash})
      }
      for (const op of computed.agentOps) {
        if (op.action === 'delete') await tx.agents.delete(orgId, op.id)
        else await tx.agents.upsert({orgId, agentId: op.id, spec: op.spec, managedBy: op.managedBy})
      }
      const written = computed.secretOps.length + computed.agentOps.length
      const fingerprint = written === 0 ? request.fingerprint : fingerprintOf(await loadState(tx, orgId), desired)
      return {changes: computed.changes, fingerprint}
    })

    if ('planId' in request) this.plans.delete(request.planId)
    return {applied: true, project: desired.project, changes: result.changes, summary: summarize(result.changes), fingerprint: result.fingerprint}
  }

  private remember(planId: string, plan: StoredPlan): void {
    const now = this.now()
    for (const [id, p] of this.plans) if (p.expiresAt <= now) this.plans.delete(id)
    while (this.plans.size >= this.maxPlans) {
      const oldest = this.plans.keys().next().value
      if (oldest === undefined) break
      this.plans.delete(oldest)
    }
    this.plans.set(planId, plan)
  }

  private recall(planId: string, orgId: string): StoredPlan | undefined {
    const plan = this.plans.get(planId)
    if (!plan) return undefined
    if (plan.expiresAt <= this.now()) {
      this.plans.delete(planId)
      return undefined
    }
    return plan.orgId === orgId ? plan : undefined
  }
}

/**
 * The wire contract of `lobu apply`, shared by the CLI (src/lib/apply) and the gateway
 * (src/lib/gateway/apply). Types only: importing this file loads nothing.
 */
import type {AgentSpec} from './agents.js'

/** One agent of the desired state: its lobu.toml id plus the spec the gateway stores. */
export interface DesiredAgent extends AgentSpec {
  id: string
}

/** The whole desired state of one project: what `POST /api/v1/apply/plan` receives. */
export interface DesiredState {
  /** project.id of lobu.toml (or the slugged directory name): the `managedBy` of its agents. */
  project: string
  agents: DesiredAgent[]
  /** Secret values resolved client-side, by secret name. Sent once, stored encrypted. */
  secrets: Record<string, string>
}

export type ChangeAction = 'create' | 'update' | 'delete' | 'noop'

/**
 * One field-level difference. `before` absent = the field is added, `after` absent = removed.
 * Secrets never carry values: only `{path: 'value', changed: true}`.
 */
export interface FieldChange {
  path: string
  before?: unknown
  after?: unknown
  changed?: true
}

export interface PlanChange {
  kind: 'agent' | 'secret'
  id: string
  action: ChangeAction
  fields: FieldChange[]
}

export interface PlanSummary {
  create: number
  update: number
  delete: number
  noop: number
}

export interface Plan {
  planId: string
  /** Hash of the org's agents and secret hashes the plan was computed against. */
  fingerprint: string
  project: string
  prune: boolean
  changes: PlanChange[]
  summary: PlanSummary
  /** Agents this project applied before and no longer declares (deleted only with prune). */
  orphans: string[]
  /** Things worth telling the user that do not stop the plan (e.g. a secret_ref not set yet). */
  warnings: string[]
}

export interface ApplyResult {
  applied: true
  project: string
  changes: PlanChange[]
  summary: PlanSummary
  /** Fingerprint of the org after the apply. */
  fingerprint: string
}

/** `POST /api/v1/apply` bodies. */
export type ApplyRequest =
  | {planId: string; fingerprint: string}
  | {desired: DesiredState; fingerprint: string; prune?: boolean}

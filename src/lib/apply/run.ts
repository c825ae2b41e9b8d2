/**
 * The client side of `lobu apply` after the desired state is built: plan → render → confirm →
 * apply, with one re-plan when the gateway answers 409 PLAN_STALE. The oclif command and
 * `lobu run`'s auto-apply both call this; it prints through the `io` it is given.
 */
import type {ApplyResult, DesiredState, Plan, PlanSummary} from '../contract/apply.js'
import {OperationError, UsageError} from '../core/errors.js'
import type {ApiClient} from '../client/api-client.js'
import {type RenderStyle, appliedLine, hasChanges, plainStyle, renderPlan, summaryLine} from './render.js'

export const PLAN_PATH = '/api/v1/apply/plan'
export const APPLY_PATH = '/api/v1/apply'

export type ApplyClient = Pick<ApiClient, 'post'>

export interface ApplyIO {
  /** A line of data (stdout). */
  out(line: string): void
  /** A line of progress, warning or hint (stderr). */
  err(line: string): void
}

export const silentIO: ApplyIO = {out() {}, err() {}}

export interface RunApplyOptions {
  client: ApplyClient
  desired: DesiredState
  prune?: boolean
  /** Plan only. */
  dryRun?: boolean
  /** Apply without asking. */
  yes?: boolean
  /** Ask for confirmation (only called when a person can answer and --yes was not given). */
  confirm?: (message: string) => Promise<boolean>
  io?: ApplyIO
  style?: RenderStyle
}

export interface RunApplyResult {
  plan: Plan
  /** The gateway's answer, or null when nothing was applied (dry run, no changes, declined). */
  applied: ApplyResult | null
  summary: PlanSummary
  /** True when the (last) plan had changes to make. */
  changed: boolean
  /** True when the user declined at the prompt. */
  declined: boolean
}

function errorCode(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | null)?.code
  return typeof code === 'string' ? code : undefined
}

async function requestPlan(client: ApplyClient, desired: DesiredState, prune: boolean): Promise<Plan> {
  return client.post<Plan>(PLAN_PATH, {...desired, prune})
}

/** Apply a plan by id; a gateway that no longer holds it (expired, another instance) gets the desired state again. */
async function requestApply(client: ApplyClient, plan: Plan, desired: DesiredState, prune: boolean): Promise<ApplyResult> {
  try {
    return await client.post<ApplyResult>(APPLY_PATH, {planId: plan.planId, fingerprint: plan.fingerprint})
  } catch (error) {
    if (errorCode(error) !== 'PLAN_NOT_FOUND') throw error
    return client.post<ApplyResult>(APPLY_PATH, {desired, fingerprint: plan.fingerprint, prune})
  }
}

function show(plan: Plan, io: ApplyIO, style: RenderStyle): void {
  for (const line of renderPlan(plan, style)) io.out(line)
  if (plan.changes.length > 0) io.out('')
  io.out(summaryLine(plan.summary))
  for (const warning of plan.warnings) io.err(`Warning: ${warning}`)
  if (plan.orphans.length > 0) {
    const names = plan.orphans.join(', ')
    io.err(`Note: ${plan.orphans.length === 1 ? 'agent' : 'agents'} ${names} no longer in lobu.toml; run with --prune to delete.`)
  }
}

export async function runApply(options: RunApplyOptions): Promise<RunApplyResult> {
  const {client, desired} = options
  const prune = options.prune ?? false
  const io = options.io ?? silentIO
  const style = options.style ?? plainStyle

  let plan = await requestPlan(client, desired, prune)
  show(plan, io, style)
  const done = (applied: ApplyResult | null, declined = false): RunApplyResult => ({
    plan,
    applied,
    summary: applied?.summary ?? plan.summary,
    changed: hasChanges(plan.summary),
    declined,
  })

  if (options.dryRun) return done(null)
  // Nothing to confirm when nothing would change (as terraform): no --yes needed.
  if (!options.yes && !options.confirm && hasChanges(plan.summary)) {
    throw new UsageError('refusing to apply without --yes in non-interactive mode', {
      code: 'CONFIRMATION_REQUIRED',
      hint: 'Run `lobu apply --yes` to apply, or `lobu apply --dry-run` to only see the plan',
    })
  }

  for (let attempt = 0; ; attempt++) {
    if (!hasChanges(plan.summary)) {
      io.err('No changes: the gateway already matches lobu.toml.')
      return done(null)
    }
    if (!options.yes && !(await options.confirm!('Apply these changes?'))) {
      io.err('Nothing applied.')
      return done(null, true)
    }
    try {
      const applied = await requestApply(client, plan, desired, prune)
      io.out(appliedLine(applied.summary))
      return done(applied)
    } catch (error) {
      if (errorCode(error) !== 'PLAN_STALE') throw error
      if (attempt >= 1) {
        throw new OperationError("the gateway's agents kept changing while applying; nothing was applied", {
          code: 'PLAN_STALE',
          hint: 'Someone else is changing this org right now: run `lobu apply` again in a moment',
        })
      }
      io.err("The gateway's agents or secrets changed since the plan was made; nothing was applied. Planning again:")
      plan = await requestPlan(client, desired, prune)
      io.out('')
      show(plan, io, style)
    }
  }
}

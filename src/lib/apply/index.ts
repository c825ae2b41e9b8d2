/**
 * `lobu apply` as functions: build the desired state of a project, plan it on a gateway,
 * render, confirm and apply. The oclif command and `lobu run`'s auto-apply are thin callers.
 */
import type {Project} from '../config/types.js'
import {projectIdOf} from '../config/project-id.js'
import {buildDesiredState} from './desired-state.js'
import {agentSummaryLines} from './render.js'
import {type ApplyClient, type RunApplyResult, runApply} from './run.js'

export {buildDesiredState, envRefName, literalSecretName} from './desired-state.js'
export {projectIdOf} from '../config/project-id.js'
export {agentSummaryLines, appliedLine, formatValue, hasChanges, plainStyle, renderPlan, summaryLine} from './render.js'
export type {RenderStyle} from './render.js'
export {APPLY_PATH, PLAN_PATH, runApply, silentIO} from './run.js'
export type {ApplyClient, ApplyIO, RunApplyOptions, RunApplyResult} from './run.js'
export type * from '../contract/apply.js'

export interface ApplyProjectOptions {
  client: ApplyClient
  project: Project
  env?: Record<string, string | undefined>
  /** Delete agents this project applied before and no longer declares (only when lobu.toml has project.id). */
  prune?: boolean
  /** One line per agent (`agent support: created`), e.g. for `lobu run`'s boot output. */
  log?: (line: string) => void
}

/**
 * Apply a project without asking (`lobu apply --yes [--prune]`), for `lobu run`'s auto-apply.
 * Missing `$NAME`s throw UsageError (exit 2) before any request; a stale plan is re-planned once.
 */
export async function applyProject(options: ApplyProjectOptions): Promise<RunApplyResult> {
  const desired = await buildDesiredState(options.project, options.env ?? process.env)
  const prune = Boolean(options.prune) && projectIdOf(options.project).declared
  const result = await runApply({client: options.client, desired, prune, yes: true})
  if (options.log) {
    const lines = agentSummaryLines(result.applied ?? result.plan)
    for (const line of lines) options.log(line)
  }
  return result
}

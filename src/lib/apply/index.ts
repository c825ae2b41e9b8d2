/**
 * `lobu apply` as functions: build the desired state of a project, plan it on a gateway,
 * render, confirm and apply. The oclif command and `lobu run`'s auto-apply (src/lib/embedded/
 * auto-apply.ts) are thin callers.
 */
export {buildDesiredState, envRefName, literalSecretName} from './desired-state.js'
export {projectIdOf} from '../config/project-id.js'
export {agentSummaryLines, appliedLine, formatValue, hasChanges, plainStyle, renderPlan, summaryLine} from './render.js'
export type {RenderStyle} from './render.js'
export {APPLY_PATH, PLAN_PATH, runApply, silentIO} from './run.js'
export type {ApplyClient, ApplyIO, RunApplyOptions, RunApplyResult} from './run.js'
export type * from '../contract/apply.js'

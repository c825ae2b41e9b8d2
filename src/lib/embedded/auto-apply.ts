/**
 * Auto-apply at boot (`lobu run`, an auto-booted `lobu chat`): `lobu apply --yes` for org
 * `local` over HTTP against the gateway just started, with prune when lobu.toml declares a
 * project id (prune only ever touches agents this project created). One line per agent.
 */
import type {DesiredState} from '../contract/apply.js'
import {type ApplyClient, agentSummaryLines, runApply} from '../apply/index.js'
import {ApiClient} from '../client/api-client.js'
import type {Project} from '../config/index.js'
import {projectIdOf} from '../config/project-id.js'
import type {RunningGateway} from '../gateway/server.js'
import type {AutoApplyResult} from './boot.js'

export interface AutoApplyOptions {
  gateway: Pick<RunningGateway, 'url' | 'origin'>
  token: string
  project: Project
  desired: unknown
  log: (line: string) => void
  /** The client that plans and applies (default: one for `gateway` with `token`). */
  client?: ApplyClient
}

export async function autoApply(opts: AutoApplyOptions): Promise<AutoApplyResult> {
  const client = opts.client ?? new ApiClient({baseUrl: opts.gateway.url, token: opts.token, tokenOrigin: opts.gateway.origin, contextName: 'local'})
  const desired = opts.desired as DesiredState
  const result = await runApply({client, desired, prune: projectIdOf(opts.project).declared, yes: true})
  const changes = result.applied?.changes ?? result.plan.changes
  const agents = changes.filter((c) => c.kind === 'agent').map((c) => ({id: c.id, action: c.action}))
  if (result.applied) for (const line of agentSummaryLines(result.applied)) opts.log(`applied ${line}`)
  else if (agents.length > 0) opts.log(`lobu.toml already applied: ${agents.map((a) => a.id).join(', ')} unchanged`)
  return {agents, summary: result.summary}
}

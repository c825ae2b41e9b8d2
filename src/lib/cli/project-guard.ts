/**
 * "Is this gateway the one of my project?" A local gateway says in `GET /health` which project it
 * serves; a command run in a project that reaches another project's gateway refuses (exit 2)
 * naming both, instead of reading or changing that project's agents.
 */
import {probeHealth} from '../chat/gateway.js'
import {projectIdOf} from '../config/project-id.js'
import type {Project} from '../config/types.js'
import type {ResolvedContext} from '../context/index.js'
import {UsageError} from '../core/errors.js'

/** The id a gateway reports in /health for this project (as `lobu run` computes it). */
export function healthIdOf(project: Pick<Project, 'root' | 'config'>): string {
  return projectIdOf(project).id
}

export function otherProjectError(ctx: Pick<ResolvedContext, 'name' | 'url'>, served: string, expected: string, options: {force?: boolean} = {}): UsageError {
  return new UsageError(`the gateway of context "${ctx.name}" (${ctx.url}) serves project "${served}", not "${expected}" (this directory)`, {
    code: 'OTHER_PROJECT',
    hint:
      `Start this project's gateway with \`lobu run\` here (\`local\` then follows it), or pick the right context with -c` +
      (options.force ? '; --force to go ahead anyway' : ''),
  })
}

/** Throw otherProjectError when /health of the context names another project; anything else passes. */
export async function assertServesProject(ctx: Pick<ResolvedContext, 'name' | 'url'>, project: Pick<Project, 'root' | 'config'>, options: {force?: boolean} = {}): Promise<void> {
  const health = await probeHealth(ctx.url).catch(() => undefined)
  const served = health && health.ok ? health.project : undefined
  const expected = healthIdOf(project)
  if (typeof served === 'string' && served !== '' && served !== expected) throw otherProjectError(ctx, served, expected, options)
}

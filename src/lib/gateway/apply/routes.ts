/**
 * `POST /api/v1/apply/plan` and `POST /api/v1/apply` (scope agents:write). Thin: read and
 * validate the body (400 INVALID_REQUEST with field paths, docs/SECURITY.md S15), call the service.
 */
import type {DesiredState} from '../../contract/apply.js'
import {agentUrlProblems, type EgressPolicy} from '../egress/index.js'
import {requireScope} from '../http/auth.js'
import {HttpError} from '../http/errors.js'
import type {RouteModule} from '../http/types.js'
import {readJson} from '../http/validate.js'
import type {Services} from '../services.js'
import {stdioRefusal} from '../tools/policy.js'
import {type Issue, formatPath, parseApplyRequest, parsePlanRequest} from './schema.js'

/** 400 INVALID_REQUEST whose body also lists `{path, message}` per problem. */
export class InvalidRequestError extends HttpError {
  constructor(readonly issues: Issue[]) {
    const shown = issues.slice(0, 10).map((i) => `${i.path}: ${i.message}`)
    if (issues.length > 10) shown.push(`… and ${issues.length - 10} more`)
    super(400, 'INVALID_REQUEST', `invalid desired state: ${shown.join('; ')}`, 'Check lobu.toml with `lobu validate`')
  }

  override toBody() {
    const body = super.toBody()
    return {error: {...body.error, details: this.issues}}
  }
}

/** 400 naming each agent URL a team gateway refuses (docs/SECURITY.md, "Egress"). */
function assertDestinations(egress: EgressPolicy, desired: DesiredState): void {
  const issues: Issue[] = []
  desired.agents.forEach((agent, i) => {
    for (const p of agentUrlProblems(egress, agent)) issues.push({path: formatPath(['agents', i, ...p.path]), message: p.message})
  })
  if (issues.length > 0) throw new InvalidRequestError(issues)
}

/** 400 STDIO_NOT_ALLOWED naming the agent and server (see tools/policy.ts stdioRefusal). */
function refuseStdio(services: Services, agents: readonly {id: string; mcp?: Record<string, {type: string}>}[]): void {
  const refused = stdioRefusal(services.store.kind, services.env, agents)
  if (refused) throw new HttpError(400, 'STDIO_NOT_ALLOWED', refused.message, refused.hint)
}

/** The apply routes; the service is built in services.ts. */
export const applyRoutes: RouteModule = {
  name: 'apply',
  register(app, services) {
    app.post('/api/v1/apply/plan', requireScope('agents:write'), async (c) => {
      const parsed = parsePlanRequest(await readJson(c))
      if (!parsed.ok) throw new InvalidRequestError(parsed.issues)
      assertDestinations(services.egress, parsed.value.desired)
      refuseStdio(services, parsed.value.desired.agents)
      const plan = await services.apply.plan(c.get('auth').org.id, parsed.value.desired, {prune: parsed.value.prune})
      return c.json(plan)
    })

    app.post('/api/v1/apply', requireScope('agents:write'), async (c) => {
      const parsed = parseApplyRequest(await readJson(c))
      if (!parsed.ok) throw new InvalidRequestError(parsed.issues)
      if ('desired' in parsed.value) {
        assertDestinations(services.egress, parsed.value.desired)
        refuseStdio(services, parsed.value.desired.agents)
      }
      const result = await services.apply.apply(c.get('auth').org.id, parsed.value)
      return c.json(result)
    })
  },
}

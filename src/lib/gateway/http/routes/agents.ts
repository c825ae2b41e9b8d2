import {agentIdSchema, agentPutSchema} from '../../agents/schema.js'
import {agentUrlProblems} from '../../egress/index.js'
import {stdioRefusal} from '../../tools/policy.js'
import {requireScope} from '../auth.js'
import {HttpError, badRequest} from '../errors.js'
import type {RouteModule} from '../types.js'
import {jsonBody, param} from '../validate.js'

/** Agents of the caller's org. */
export const agentRoutes: RouteModule = {
  name: 'agents',
  register(app, services) {
    app.get('/api/v1/agents', requireScope('agents:read'), async (c) => c.json(await services.agents.list(c.get('auth').org.id)))

    app.get('/api/v1/agents/:id', requireScope('agents:read'), async (c) => {
      const id = param(c, 'id', agentIdSchema)
      return c.json(await services.agents.get(c.get('auth').org.id, id))
    })

    app.put('/api/v1/agents/:id', requireScope('agents:write'), async (c) => {
      const id = param(c, 'id', agentIdSchema)
      const body = await jsonBody(c, agentPutSchema)
      // A team gateway refuses a URL written as an internal address at once (docs/SECURITY.md, "Egress").
      const refused = agentUrlProblems(services.egress, body)
      if (refused.length > 0) {
        throw badRequest('INVALID_REQUEST', `invalid request: ${refused.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`, 'the gateway operator can allow a destination with LOBU_EGRESS_ALLOW')
      }
      const stdio = stdioRefusal(services.store.kind, services.env, [{id, mcp: body.mcp}])
      if (stdio) throw new HttpError(400, 'STDIO_NOT_ALLOWED', stdio.message, stdio.hint)
      const {created, agent} = await services.agents.put(c.get('auth').org.id, id, body)
      return c.json(agent, created ? 201 : 200)
    })

    app.delete('/api/v1/agents/:id', requireScope('agents:write'), async (c) => {
      const id = param(c, 'id', agentIdSchema)
      return c.json(await services.agents.delete(c.get('auth').org.id, id))
    })
  },
}

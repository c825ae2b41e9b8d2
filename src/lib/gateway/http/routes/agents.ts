import {agentIdSchema, agentPutSchema} from '../../agents/schema.js'
import {stdioRefusal} from '../../tools/policy.js'
import {requireScope} from '../auth.js'
import {HttpError} from '../errors.js'
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
      const refused = stdioRefusal(services.store.kind, services.env, [{id, mcp: body.mcp}])
      if (refused) throw new HttpError(400, 'STDIO_NOT_ALLOWED', refused.message, refused.hint)
      const {created, agent} = await services.agents.put(c.get('auth').org.id, id, body)
      return c.json(agent, created ? 201 : 200)
    })

    app.delete('/api/v1/agents/:id', requireScope('agents:write'), async (c) => {
      const id = param(c, 'id', agentIdSchema)
      return c.json(await services.agents.delete(c.get('auth').org.id, id))
    })
  },
}

/**
 * Tool routes (README "Tools and approvals"), all with the `chat` scope, for the caller's own
 * sessions, grants and connections:
 *
 * - `POST /api/v1/sessions/:key/approvals/:callId {decision}` → `{callId, decision}`; 409
 *   ALREADY_DECIDED for a second decision; 403 as for a missing session when the call is not the
 *   caller's (another user or org, or no such call);
 * - `GET /api/v1/agents/:id/tools` → each MCP server's state and each tool's status for the
 *   caller (connecting their servers if needed);
 * - `DELETE /api/v1/agents/:id/tools/grants?pattern=` → `{removed}`.
 */
import {z} from 'zod'

import {agentNotAccessible} from '../agents/service.js'
import {agentIdSchema} from '../agents/schema.js'
import {badRequest} from '../http/errors.js'
import {requireScope} from '../http/auth.js'
import type {RouteModule, Services} from '../http/types.js'
import {jsonBody, param} from '../http/validate.js'
import {SESSION_KEY_PATTERN} from '../sessions/schema.js'
import {sessionNotAccessible} from '../sessions/service.js'
import {DECISIONS} from './approvals.js'
import {isValidPattern} from './policy.js'

const decisionSchema = z.object({decision: z.enum(DECISIONS, {message: `expected one of ${DECISIONS.join(', ')}`})}).strict()
/** Call ids are what the model sent: printable, bounded. */
const CALL_ID = /^[\x21-\x7e]{1,256}$/

export const toolRoutes: RouteModule = {
  name: 'tools',
  register(app, services: Services) {
    const tools = () => services.tools

    app.post('/api/v1/sessions/:key/approvals/:callId', requireScope('chat'), async (c) => {
      const auth = c.get('auth')
      const key = c.req.param('key') ?? ''
      const callId = c.req.param('callId') ?? ''
      const {decision} = await jsonBody(c, decisionSchema)
      if (!SESSION_KEY_PATTERN.test(key) || !CALL_ID.test(callId)) throw sessionNotAccessible()
      return c.json(await tools().approvals.decide({orgId: auth.org.id, userId: auth.user.id}, key, callId, decision, sessionNotAccessible))
    })

    app.get('/api/v1/agents/:id/tools', requireScope('chat'), async (c) => {
      const auth = c.get('auth')
      const id = param(c, 'id', agentIdSchema)
      const agent = await services.store.agents.get(auth.org.id, id)
      if (!agent) throw agentNotAccessible(id)
      return c.json(await tools().view({orgId: auth.org.id, userId: auth.user.id}, agent))
    })

    app.delete('/api/v1/agents/:id/tools/grants', requireScope('chat'), async (c) => {
      const auth = c.get('auth')
      const id = param(c, 'id', agentIdSchema)
      const pattern = c.req.query('pattern') ?? ''
      if (!isValidPattern(pattern)) throw badRequest('INVALID_REQUEST', `invalid pattern ${JSON.stringify(pattern)}: expected /mcp/<server>/tools/<tool> or /mcp/<server>/tools/*`)
      const agent = await services.store.agents.get(auth.org.id, id)
      if (!agent) throw agentNotAccessible(id)
      return c.json({removed: await tools().approvals.revoke({orgId: auth.org.id, userId: auth.user.id}, id, pattern)})
    })
  },
}

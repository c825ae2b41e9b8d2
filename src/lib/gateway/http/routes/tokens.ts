import {z} from 'zod'

import type {WhoamiResponse} from '../../../contract/api.js'
import {requireScope} from '../auth.js'
import type {RouteModule} from '../types.js'
import {jsonBody} from '../validate.js'

const createTokenBody = z.object({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(z.string().max(64)).max(32),
  expiresIn: z.union([z.string().max(32), z.number().int()]).optional(),
})

/** `GET /api/v1/whoami` and the caller's tokens (`tokens:write`). */
export const tokenRoutes: RouteModule = {
  name: 'tokens',
  register(app, services) {
    app.get('/api/v1/whoami', (c) => {
      const {user, org, token} = c.get('auth')
      return c.json<WhoamiResponse>({
        user: {id: user.id, name: user.name, email: user.email},
        org: {id: org.id, slug: org.slug, name: org.name},
        token: {id: token.id, name: token.name, scopes: token.scopes, expiresAt: token.expiresAt?.toISOString() ?? null},
      })
    })

    app.post('/api/v1/tokens', requireScope('tokens:write'), async (c) => {
      const body = await jsonBody(c, createTokenBody)
      return c.json(await services.tokens.create(c.get('auth'), body), 201)
    })

    app.get('/api/v1/tokens', requireScope('tokens:write'), async (c) => c.json(await services.tokens.list(c.get('auth'))))

    app.delete('/api/v1/tokens/:id', requireScope('tokens:write'), async (c) => c.json(await services.tokens.revoke(c.get('auth'), c.req.param('id'))))
  },
}

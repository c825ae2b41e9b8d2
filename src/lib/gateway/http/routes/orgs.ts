import {z} from 'zod'

import {orgSlugSchema} from '../../agents/schema.js'
import {MIN_PASSWORD_LENGTH} from '../../auth/password.js'
import {requireScope} from '../auth.js'
import type {RouteModule} from '../types.js'
import {jsonBody, param} from '../validate.js'

const person = {
  email: z.string().trim().toLowerCase().email().max(320),
  name: z.string().trim().min(1).max(200),
  password: z.string().min(MIN_PASSWORD_LENGTH).max(1024).optional(),
}

const createOrgBody = z.object({
  slug: orgSlugSchema,
  name: z.string().trim().min(1).max(200),
  owner: z.object(person),
})

const addMemberBody = z.object({...person, role: z.enum(['owner', 'member']).default('member')})

/** Organizations of a team gateway (`admin` scope). */
export const orgRoutes: RouteModule = {
  name: 'orgs',
  register(app, services) {
    app.post('/api/v1/admin/orgs', requireScope('admin'), async (c) => c.json(await services.orgs.create(await jsonBody(c, createOrgBody)), 201))

    app.get('/api/v1/admin/orgs', requireScope('admin'), async (c) => c.json(await services.orgs.list()))

    app.post('/api/v1/admin/orgs/:slug/members', requireScope('admin'), async (c) => {
      const slug = param(c, 'slug', orgSlugSchema)
      const {created, ...member} = await services.orgs.addMember(slug, await jsonBody(c, addMemberBody))
      return c.json(member, created ? 201 : 200)
    })
  },
}

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

const role = z.enum(['owner', 'member'])
const addMemberBody = z.object({...person, role: role.default('member')})
/** An owner's add: the name defaults to the email's local part. */
const ownerAddMemberBody = addMemberBody.extend({name: person.name.optional()})
const setRoleBody = z.object({role})
/** A member is named by user id or email. */
const memberRef = z.string().trim().min(1).max(320)

/**
 * Organizations of a team gateway (`admin` scope), and their members: managed by the admin
 * (`/api/v1/admin/orgs/:slug/members…`) or by an owner of the org (`/api/v1/members…`, which
 * take `agents:write`, the org-configuration scope only owners keep: a member gets 403
 * FORBIDDEN_ROLE). See docs/SECURITY.md, "Roles".
 */
export const orgRoutes: RouteModule = {
  name: 'orgs',
  register(app, services) {
    app.post('/api/v1/admin/orgs', requireScope('admin'), async (c) => c.json(await services.orgs.create(await jsonBody(c, createOrgBody)), 201))

    app.get('/api/v1/admin/orgs', requireScope('admin'), async (c) => c.json(await services.orgs.list()))

    app.post('/api/v1/admin/orgs/:slug/members', requireScope('admin'), async (c) => {
      const slug = param(c, 'slug', orgSlugSchema)
      const {created, ...member} = await services.orgs.addMember({slug}, await jsonBody(c, addMemberBody))
      return c.json(member, created ? 201 : 200)
    })

    app.get('/api/v1/admin/orgs/:slug/members', requireScope('admin'), async (c) => {
      const org = await services.orgs.bySlug(param(c, 'slug', orgSlugSchema))
      return c.json({org: org.slug, members: await services.orgs.listMembers(org.id)})
    })

    app.put('/api/v1/admin/orgs/:slug/members/:user', requireScope('admin'), async (c) => {
      const org = await services.orgs.bySlug(param(c, 'slug', orgSlugSchema))
      const {role: next} = await jsonBody(c, setRoleBody)
      return c.json(await services.orgs.setRole(org.id, param(c, 'user', memberRef), next))
    })

    app.delete('/api/v1/admin/orgs/:slug/members/:user', requireScope('admin'), async (c) => {
      const org = await services.orgs.bySlug(param(c, 'slug', orgSlugSchema))
      return c.json(await services.orgs.removeMember(org.id, param(c, 'user', memberRef)))
    })

    // The caller's own org, for its owners.
    app.get('/api/v1/members', requireScope('agents:write'), async (c) => {
      const {org} = c.get('auth')
      return c.json({org: org.slug, members: await services.orgs.listMembers(org.id)})
    })

    app.post('/api/v1/members', requireScope('agents:write'), async (c) => {
      const body = await jsonBody(c, ownerAddMemberBody)
      const {created, ...member} = await services.orgs.addMember({id: c.get('auth').org.id}, {...body, name: body.name ?? body.email.split('@')[0]!})
      return c.json(member, created ? 201 : 200)
    })

    app.put('/api/v1/members/:user', requireScope('agents:write'), async (c) => {
      const {role: next} = await jsonBody(c, setRoleBody)
      return c.json(await services.orgs.setRole(c.get('auth').org.id, param(c, 'user', memberRef), next))
    })

    app.delete('/api/v1/members/:user', requireScope('agents:write'), async (c) => c.json(await services.orgs.removeMember(c.get('auth').org.id, param(c, 'user', memberRef))))
  },
}

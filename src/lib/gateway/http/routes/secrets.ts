/**
 * Org secrets: the values `secret_ref` (and apply's provider keys) name. Stored encrypted under
 * the install key (AES-256-GCM) with a keyed hash; no route ever returns a value.
 *
 *   GET    /api/v1/secrets         (agents:read)  → [{name, createdAt, updatedAt, usedBy: [agentId]}]
 *   PUT    /api/v1/secrets/:name   (agents:write) {value} → 201 created / 200 updated, {name, created, createdAt, updatedAt, usedBy}
 *   DELETE /api/v1/secrets/:name   (agents:write) → {name, removed: true}; 404 when there is none
 */
import {z} from 'zod'

import type {SecretView} from '../../../contract/api.js'
import {SECRET_NAME_PATTERN} from '../../../contract/ids.js'
import {encryptSecret, keyedHash} from '../../crypto/index.js'
import type {AgentRow} from '../../store/types.js'
import {requireScope} from '../auth.js'
import {notFound} from '../errors.js'
import type {RouteModule} from '../types.js'
import {jsonBody, param} from '../validate.js'

const nameSchema = z.string().regex(SECRET_NAME_PATTERN, 'a secret name is letters, digits and _ (not starting with a digit), at most 128')
const putSchema = z.object({value: z.string().min(1, 'must not be empty').max(64 * 1024, 'at most 64 KiB')}).strict()

/** The secret names an agent refers to: provider keys and MCP OAuth client secrets. */
function secretNamesOf(agent: AgentRow): Set<string> {
  const names = new Set<string>()
  for (const p of agent.spec.providers ?? []) if (p.key.kind === 'secret') names.add(p.key.name)
  for (const server of Object.values(agent.spec.mcp ?? {})) if (server.oauth?.clientSecretRef) names.add(server.oauth.clientSecretRef)
  return names
}

function usedBy(agents: readonly AgentRow[], name: string): string[] {
  return agents.filter((a) => secretNamesOf(a).has(name)).map((a) => a.agentId).sort()
}

export const secretRoutes: RouteModule = {
  name: 'secrets',
  register(app, services) {
    const {store} = services

    app.get('/api/v1/secrets', requireScope('agents:read'), async (c) => {
      const orgId = c.get('auth').org.id
      const [rows, agents] = await Promise.all([store.secrets.list(orgId), store.agents.list(orgId)])
      const list: SecretView[] = rows
        .map((r) => ({name: r.name, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString(), usedBy: usedBy(agents, r.name)}))
        .sort((a, b) => a.name.localeCompare(b.name))
      return c.json(list)
    })

    app.put('/api/v1/secrets/:name', requireScope('agents:write'), async (c) => {
      const orgId = c.get('auth').org.id
      const name = param(c, 'name', nameSchema)
      const {value} = await jsonBody(c, putSchema)
      const existing = await store.secrets.get(orgId, name)
      const row = await store.secrets.upsert({orgId, name, ciphertext: encryptSecret(services.installKey, value), keyedHash: keyedHash(services.installKey, value)})
      const agents = await store.agents.list(orgId)
      const body: SecretView & {created: boolean} = {name, created: !existing, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString(), usedBy: usedBy(agents, name)}
      return c.json(body, existing ? 200 : 201)
    })

    app.delete('/api/v1/secrets/:name', requireScope('agents:write'), async (c) => {
      const orgId = c.get('auth').org.id
      const name = param(c, 'name', nameSchema)
      if (!(await store.secrets.delete(orgId, name))) throw notFound(`no secret ${name} in this organization`, 'lobu secrets list shows the names')
      return c.json({name, removed: true})
    })
  },
}

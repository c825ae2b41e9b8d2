/**
 * OAuth routes:
 *
 *   POST /oauth/device/code          device authorization request (no auth; form or JSON)
 *   POST /oauth/token                device-code grant polling (no auth; RFC 8628 errors)
 *   GET  /device, POST /device       the approval page (email + password; no token)
 *   POST /oauth/device/approve       approve with a `tokens:write` token
 *   POST /api/v1/oauth/connect       start an authorization-code + PKCE flow (`oauth`)
 *   GET  /oauth/callback             the provider's redirect (no auth; state-bound)
 *   GET  /api/v1/oauth/connections   the caller's connections (`oauth`), never tokens
 *   DELETE /api/v1/oauth/connections/:id
 *   POST /api/v1/oauth/keys          the caller's own provider API key (BYOK, `oauth`)
 *   POST /oauth/connection-token     a connection's access token (`connections:token`)
 *
 * Routes under `/oauth/*` and `/device` are outside `/api`: the auth middleware does not run
 * there; the two that need a token authenticate it themselves (bearer only, docs/SECURITY.md S20).
 */
import type {Context} from 'hono'
import {z} from 'zod'

import {agentIdSchema} from '../agents/schema.js'
import {requireScope} from '../http/auth.js'
import {badRequest} from '../http/errors.js'
import type {AppEnv, RouteModule} from '../http/types.js'
import {HEADER_SAFE, HEADER_SAFE_MESSAGE, jsonBody, parseWith} from '../http/validate.js'
import {DEVICE_GRANT_TYPE, OAuthProtocolError} from './device.js'
import {CallbackError, grantHttpError} from './grants.js'
import {approveForm, codeForm, htmlPage, messagePage} from './html.js'
import {BodyError, bearerWithScope, clientAddress, oauthError, publicBaseUrl, readFields} from './http.js'
import {ADDRESS_CODES, ADDRESS_LOOKUPS} from './limits.js'

const targetSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be an MCP server or provider id')

const connectBody = z.object({agentId: agentIdSchema, target: targetSchema})

const keyBody = z.object({
  agentId: agentIdSchema,
  providerId: targetSchema,
  key: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(4096)
    .refine((k) => HEADER_SAFE.test(k), HEADER_SAFE_MESSAGE),
})

const connectionTokenBody = z.object({
  org: z.string().min(1).max(100),
  connector: z.string().min(1).max(200),
})

const connectionIdSchema = z.string().regex(/^[A-Za-z0-9_]{1,100}$/, 'must be a connection id')

function owner(c: Context<AppEnv>) {
  const auth = c.get('auth')
  return {orgId: auth.org.id, userId: auth.user.id}
}

/** Fields of a form-or-JSON body for the JSON API routes outside `/api` (400 when unreadable). */
async function fieldsOr400(c: Context): Promise<Record<string, string>> {
  try {
    return await readFields(c)
  } catch (err) {
    if (err instanceof BodyError) throw badRequest('INVALID_REQUEST', err.message)
    throw err
  }
}

/** Fields of an OAuth client's form-or-JSON body, or the RFC 6749 error answer when unreadable. */
async function clientFields(c: Context): Promise<Record<string, string> | Response> {
  try {
    return await readFields(c)
  } catch (err) {
    if (err instanceof BodyError) return oauthError(c, 400, 'invalid_request', err.message)
    throw err
  }
}

/** Browsers send Sec-Fetch-Site: a form posted from another site is refused (CSRF). */
function crossSite(c: Context): boolean {
  const site = c.req.header('sec-fetch-site')
  return site !== undefined && site !== 'same-origin' && site !== 'none'
}

/** The OAuth routes; the device and grant services are built in services.ts. */
export const oauthRoutes: RouteModule = {
  name: 'oauth',
  register(app, services) {
    const {device, grants} = services

    // ----- device login (RFC 8628) -----

    app.post('/oauth/device/code', async (c) => {
      const wait = await device.overAddressLimit(clientAddress(c), ADDRESS_CODES)
      if (wait !== undefined) {
        c.header('retry-after', String(wait))
        return oauthError(c, 429, 'slow_down', `too many device codes requested from this address: retry in ${wait} s`)
      }
      const fields = await clientFields(c)
      if (fields instanceof Response) return fields
      try {
        return c.json(await device.create({clientId: fields.client_id, scope: fields.scope}, publicBaseUrl(c, services.env)))
      } catch (err) {
        if (err instanceof OAuthProtocolError) {
          if (err.retryAfterSeconds !== undefined) c.header('retry-after', String(err.retryAfterSeconds))
          return oauthError(c, err.status, err.error, err.description)
        }
        throw err
      }
    })

    app.post('/oauth/token', async (c) => {
      const fields = await clientFields(c)
      if (fields instanceof Response) return fields
      if (!fields.grant_type) return oauthError(c, 400, 'invalid_request', 'grant_type is required')
      if (fields.grant_type !== DEVICE_GRANT_TYPE) return oauthError(c, 400, 'unsupported_grant_type', `this endpoint only serves ${DEVICE_GRANT_TYPE}`)
      try {
        return c.json(await device.poll({deviceCode: fields.device_code, clientId: fields.client_id}))
      } catch (err) {
        if (err instanceof OAuthProtocolError) return oauthError(c, err.status, err.error, err.description)
        throw err
      }
    })

    app.get('/device', async (c) => {
      const typed = c.req.query('user_code')
      if (typed === undefined || typed.trim() === '') return htmlPage(c, 200, 'Log in a device', codeForm())
      const wait = await device.overAddressLimit(clientAddress(c), ADDRESS_LOOKUPS)
      if (wait !== undefined) {
        c.header('retry-after', String(wait))
        return htmlPage(c, 429, 'Log in a device', codeForm(`Too many codes looked up from your network. Wait ${wait} seconds and try again.`))
      }
      const request = await device.describe(typed)
      if (!request) return htmlPage(c, 400, 'Log in a device', codeForm('This code is unknown, expired or already used. Check your terminal, or start again.'))
      return htmlPage(c, 200, 'Approve this login?', approveForm(request))
    })

    app.post('/device', async (c) => {
      if (crossSite(c)) return htmlPage(c, 403, 'Forbidden', messagePage('error', 'Forbidden', 'This form can only be submitted from this gateway’s own page.'))
      let fields
      try {
        fields = await readFields(c)
      } catch {
        return htmlPage(c, 400, 'Log in a device', codeForm('The form could not be read. Try again.'))
      }
      const outcome = await device.decideOnPage({userCode: fields.user_code, email: fields.email, password: fields.password, org: fields.org, action: fields.action, client: clientAddress(c)})
      if (outcome.kind === 'approved') {
        return htmlPage(c, 200, 'Approved', messagePage('ok', 'Device approved', `${outcome.request.clientId} is now logged in as ${outcome.user} (${outcome.org}). You can close this tab and return to your terminal.`))
      }
      if (outcome.kind === 'denied') {
        return htmlPage(c, 200, 'Denied', messagePage('error', 'Login denied', 'The request was denied. You can close this tab.'))
      }
      if (outcome.retryAfterSeconds !== undefined) c.header('retry-after', String(outcome.retryAfterSeconds))
      const body = outcome.request ? approveForm(outcome.request, outcome.message, {email: fields.email, org: fields.org}) : codeForm(outcome.message)
      return htmlPage(c, outcome.status, 'Log in a device', body)
    })

    app.post('/oauth/device/approve', async (c) => {
      const auth = await bearerWithScope(c, services.store, 'tokens:write')
      const fields = await fieldsOr400(c)
      if (!fields.user_code) throw badRequest('INVALID_REQUEST', 'invalid request: user_code: required')
      return c.json(await device.approveWithToken(auth, fields.user_code))
    })

    // ----- account connections (authorization code + PKCE) -----

    app.post('/api/v1/oauth/connect', requireScope('oauth'), async (c) => {
      const body = await jsonBody(c, connectBody)
      return c.json(await grants.startConnect(owner(c), body, publicBaseUrl(c, services.env)), 201)
    })

    app.get('/oauth/callback', async (c) => {
      try {
        const done = await grants.completeCallback({state: c.req.query('state'), code: c.req.query('code'), error: c.req.query('error')})
        return htmlPage(c, 200, 'Connected', messagePage('ok', 'Connected', `Your account for "${done.target}" is connected to agent "${done.agentId}". You can close this tab.`))
      } catch (err) {
        if (err instanceof CallbackError) return htmlPage(c, err.status, 'Not connected', messagePage('error', 'Not connected', err.message))
        throw err
      }
    })

    app.get('/api/v1/oauth/connections', requireScope('oauth'), async (c) => {
      const agentId = c.req.query('agentId')
      const agent = agentId === undefined || agentId === '' ? undefined : parseWith(agentIdSchema, agentId, 'agentId')
      return c.json(await grants.list(owner(c), agent))
    })

    app.delete('/api/v1/oauth/connections/:id', requireScope('oauth'), async (c) => {
      const id = parseWith(connectionIdSchema, c.req.param('id'), 'id')
      return c.json(await grants.delete(owner(c), id))
    })

    app.post('/api/v1/oauth/keys', requireScope('oauth'), async (c) => {
      const body = await jsonBody(c, keyBody)
      return c.json(await grants.saveProviderKey(owner(c), body), 201)
    })

    // ----- managed connection tokens -----

    app.post('/oauth/connection-token', async (c) => {
      const auth = await bearerWithScope(c, services.store, 'connections:token')
      const body = parseWith(connectionTokenBody, await fieldsOr400(c))
      try {
        return c.json(await grants.connectionToken(auth, body))
      } catch (err) {
        throw grantHttpError(err)
      }
    })
  },
}

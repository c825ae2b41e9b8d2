/**
 * Test support: a real gateway on 127.0.0.1:<random> over a fresh store.
 *
 *   const gw = await startTestGateway({driver: 'pglite', env: {OPENAI_API_KEY: 'sk-test'}})
 *   const {status, body} = await gw.api('/api/v1/agents')               // as the local admin
 *   const b = await gw.createOrg('acme')                                   // a second org + its owner token
 *   await gw.api('/api/v1/agents/support', {token: b.token})              // as org B
 *   await gw.api('/api/v1/whoami', {token: null})                         // no Authorization header
 *   await gw.api('/x', {method: 'POST', body: '{bad json'})               // a string body is sent raw
 *   await gw.close()                                                      // gateway, then the store
 *
 * - `driver`: a name from storeDrivers() (`pglite` always, `postgres` with LOBU_TEST_DATABASE_URL);
 *   default the first one. `forEachDriver(fn)` gives the list for `describe.each`.
 * - `adminToken`: a token of the local admin in org `local` with ALL scopes (what `lobu run` stores).
 * - `api(path, {method, body, token, headers})` → `{status, body, text, headers}`; `body` is the
 *   parsed JSON (or undefined when the response is not JSON). `token` defaults to adminToken.
 * - `env` is the gateway's whole environment (system providers); ENCRYPTION_KEY is not needed.
 */
import {randomBytes} from 'node:crypto'
import {request} from 'node:http'

import {startGateway, type GatewayOptions, type RunningGateway} from '../../src/lib/gateway/server.js'
import type {Logger, RouteModule} from '../../src/lib/gateway/http/types.js'
import type {Store} from '../../src/lib/gateway/store/types.js'
import {storeDrivers} from './store.js'

export interface ApiOptions {
  method?: string
  /** An object is sent as JSON; a string or Buffer is sent as is. */
  body?: unknown
  /** Bearer token; default the admin token; null sends no Authorization header. */
  token?: string | null
  headers?: Record<string, string>
}

export interface ApiResponse<T = any> {
  status: number
  body: T
  text: string
  headers: Record<string, string | string[] | undefined>
}

export interface TestOrg {
  orgId: string
  slug: string
  userId: string
  email: string
  /** The owner's token: every scope but admin. */
  token: string
  tokenId: string
}

export interface TestGateway {
  gateway: RunningGateway
  store: Store
  url: string
  driver: string
  adminToken: string
  adminTokenId: string
  api<T = any>(path: string, opts?: ApiOptions): Promise<ApiResponse<T>>
  /** Create an org with an owner (through the admin API) and return the owner's token. */
  createOrg(slug?: string): Promise<TestOrg>
  close(): Promise<void>
}

export interface StartTestGatewayOptions {
  driver?: string
  env?: NodeJS.ProcessEnv
  project?: {id: string; root: string}
  /** Extra route modules (mounted after the core ones). */
  routes?: readonly RouteModule[]
  /** Settings of the gateway's services other than their defaults (see src/lib/gateway/services.ts). */
  services?: GatewayOptions['services']
  /** Receives the gateway's log lines (default: errors to stderr). */
  logger?: Logger
  /** What the gateway gets instead of the store (e.g. one that holds some statements); `store` stays the real one. */
  wrapStore?: (store: Store) => Store
  /** The gateway's database upkeep (see GatewayOptions.upkeep); default: as in production. */
  upkeep?: GatewayOptions['upkeep']
  /** See GatewayOptions.durable (`lobu run --durable`). */
  durable?: boolean
  /** A team gateway (guarded egress, see GatewayOptions.team); default: a local one. */
  team?: boolean
}

/** Names of the available store drivers (for `describe.each`). */
export function driverNames(): string[] {
  return storeDrivers().map((d) => d.name)
}

/**
 * Send one HTTP request with full control over headers (Host, Origin, Cookie…): node:http,
 * no connection reuse.
 */
export function rawRequest(url: string, opts: {method?: string; headers?: Record<string, string>; body?: string | Buffer} = {}): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, {method: opts.method ?? 'GET', headers: opts.headers, agent: false}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown
        if (String(res.headers['content-type'] ?? '').includes('application/json')) {
          try {
            body = JSON.parse(text)
          } catch {
            body = undefined
          }
        }
        resolve({status: res.statusCode ?? 0, body, text, headers: res.headers})
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (opts.body !== undefined) req.end(opts.body)
    else req.end()
  })
}

let orgCounter = 0

export async function startTestGateway(opts: StartTestGatewayOptions = {}): Promise<TestGateway> {
  const drivers = storeDrivers()
  const driver = opts.driver ? drivers.find((d) => d.name === opts.driver) : drivers[0]
  if (!driver) throw new Error(`no store driver named ${opts.driver}; have ${drivers.map((d) => d.name).join(', ')}`)
  const {store, cleanup} = await driver.open()
  let gateway: RunningGateway
  try {
    gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      env: opts.env ?? {},
      version: '0.0.0-test',
      project: opts.project,
      store: opts.wrapStore ? opts.wrapStore(store) : store,
      installKey: randomBytes(32),
      routes: opts.routes,
      services: opts.services,
      upkeep: opts.upkeep,
      durable: opts.durable,
      team: opts.team ?? false,
      logger:
        opts.logger ??
        ((level, msg) => {
          if (level === 'error') process.stderr.write(`[test gateway] ${msg}\n`)
        }),
    })
  } catch (err) {
    await cleanup()
    throw err
  }
  const admin = await gateway.ensureLocalCliToken()
  const url = gateway.url

  const api = async <T = any>(path: string, o: ApiOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = {...o.headers}
    const token = o.token === undefined ? admin.token : o.token
    if (token !== null && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) headers.authorization = `Bearer ${token}`
    let body: string | Buffer | undefined
    if (typeof o.body === 'string' || Buffer.isBuffer(o.body)) body = o.body
    else if (o.body !== undefined) {
      body = JSON.stringify(o.body)
      headers['content-type'] ??= 'application/json'
    }
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
    return rawRequest(url + path, {method: o.method ?? (o.body === undefined ? 'GET' : 'POST'), headers, body}) as Promise<ApiResponse<T>>
  }

  const createOrg = async (slug?: string): Promise<TestOrg> => {
    const s = slug ?? `org-${process.pid}-${++orgCounter}`
    const email = `owner@${s}.example`
    const res = await api('/api/v1/admin/orgs', {method: 'POST', body: {slug: s, name: `Org ${s}`, owner: {email, name: `Owner of ${s}`}}})
    if (res.status !== 201) throw new Error(`createOrg ${s} failed: ${res.status} ${res.text}`)
    return {orgId: res.body.org.id, slug: s, userId: res.body.user.id, email, token: res.body.token.token, tokenId: res.body.token.id}
  }

  let closed: Promise<void> | undefined
  return {
    gateway,
    store,
    url,
    driver: driver.name,
    adminToken: admin.token,
    adminTokenId: admin.tokenId,
    api,
    createOrg,
    close: () =>
      (closed ??= (async () => {
        try {
          await gateway.close()
        } finally {
          await cleanup()
        }
      })()),
  }
}

/**
 * Fuzzer over every route of the gateway: ≥ 1,000 generated requests (random and mutated JSON
 * bodies, odd methods, bad content types, bad path parameters) against an in-process gateway on
 * loopback, with a valid admin token. After every request: no 5xx (every request here is a
 * client mistake or a valid request), an error body is JSON with a code (`{error:{code}}`; the
 * OpenAI shape `{error:{message,type}}` on `/v1`; RFC 6749 `{error}` on `/oauth/device/code` and
 * `/oauth/token`; HTML on the browser pages), and no body holds a stack trace, SQL text or a
 * secret. Afterwards `/health` and a valid request still succeed.
 *
 * The run is replayable: the seed is printed, and `LOBU_STRESS_SEED=<n>` runs that seed again
 * (fast-check also prints the seed and path of a failing case).
 */
import {randomBytes} from 'node:crypto'
import {request} from 'node:http'

import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {encryptSecret, keyedHash} from '../../src/lib/gateway/crypto/index.js'
import {startFakeProvider, type FakeProvider} from '../support/fake-provider.js'
import {startTestGateway, type TestGateway} from '../support/gateway.js'

const SEED = Number(process.env.LOBU_STRESS_SEED ?? 20261206)
const RUNS = Number(process.env.LOBU_STRESS_RUNS ?? 1200)

const PROVIDER_SECRET = `sk-ant-stress-${randomBytes(12).toString('hex')}`
const OPENAI_ENV_KEY = `sk-openai-stress-${randomBytes(12).toString('hex')}`
const ENCRYPTION_KEY = randomBytes(32).toString('base64')

// ---------------------------------------------------------------------------------------------
// The routes (from the registrations in src/lib/gateway/http/routes, apply/routes.ts,
// sessions/routes.ts, oauth/routes.ts, openai-compat/routes.ts). `:x` are path parameters.

type Kind = 'api' | 'openai' | 'oauth-rfc' | 'html' | 'health'
interface Route {
  method: string
  path: string
  kind: Kind
  /** A valid body (the fuzzer mutates it). */
  body?: () => unknown
  form?: boolean
}

const ROUTES: Route[] = [
  {method: 'GET', path: '/health', kind: 'health'},
  {method: 'GET', path: '/api/v1/whoami', kind: 'api'},
  {method: 'POST', path: '/api/v1/tokens', kind: 'api', body: () => ({name: 'fuzz', scopes: ['chat'], expiresIn: '1d'})},
  {method: 'GET', path: '/api/v1/tokens', kind: 'api'},
  {method: 'DELETE', path: '/api/v1/tokens/:tokenId', kind: 'api'},
  {method: 'POST', path: '/api/v1/admin/orgs', kind: 'api', body: () => ({slug: 'fuzz-org', name: 'Fuzz', owner: {email: 'o@fuzz.example', name: 'O'}})},
  {method: 'GET', path: '/api/v1/admin/orgs', kind: 'api'},
  {method: 'POST', path: '/api/v1/admin/orgs/:slug/members', kind: 'api', body: () => ({email: 'm@fuzz.example', name: 'M', role: 'member'})},
  {method: 'GET', path: '/api/v1/admin/orgs/:slug/members', kind: 'api'},
  {method: 'PUT', path: '/api/v1/admin/orgs/:slug/members/:user', kind: 'api', body: () => ({role: 'member'})},
  {method: 'DELETE', path: '/api/v1/admin/orgs/:slug/members/:user', kind: 'api'},
  {method: 'GET', path: '/api/v1/members', kind: 'api'},
  {method: 'POST', path: '/api/v1/members', kind: 'api', body: () => ({email: 'n@fuzz.example', role: 'member'})},
  {method: 'PUT', path: '/api/v1/members/:user', kind: 'api', body: () => ({role: 'owner'})},
  {method: 'DELETE', path: '/api/v1/members/:user', kind: 'api'},
  {method: 'GET', path: '/api/v1/agents', kind: 'api'},
  {method: 'GET', path: '/api/v1/agents/:agentId', kind: 'api'},
  {method: 'PUT', path: '/api/v1/agents/:agentId', kind: 'api', body: () => ({name: 'Fuzz', description: 'd', files: {identity: 'You are fuzz.', skills: []}})},
  {method: 'DELETE', path: '/api/v1/agents/:agentId', kind: 'api'},
  {method: 'GET', path: '/api/v1/agents/:agentId/tools', kind: 'api'},
  {method: 'DELETE', path: '/api/v1/agents/:agentId/tools/grants', kind: 'api'},
  {
    method: 'POST',
    path: '/api/v1/apply/plan',
    kind: 'api',
    body: () => ({project: 'fuzz', agents: [{id: 'fuzz-a', name: 'A', files: {identity: 'x', skills: []}}], secrets: {}, prune: false}),
  },
  {method: 'POST', path: '/api/v1/apply', kind: 'api', body: () => ({project: 'fuzz', agents: [], secrets: {}, fingerprint: 'x'})},
  {method: 'POST', path: '/api/v1/sessions', kind: 'api', body: () => ({agentId: 'helper', thread: 'fuzz', forceNew: false})},
  {method: 'GET', path: '/api/v1/sessions/:key', kind: 'api'},
  {method: 'DELETE', path: '/api/v1/sessions/:key', kind: 'api'},
  {method: 'POST', path: '/api/v1/sessions/:key/messages', kind: 'api', body: () => ({content: 'hello', dryRun: false})},
  {method: 'GET', path: '/api/v1/sessions/:key/events', kind: 'api'},
  {method: 'POST', path: '/api/v1/sessions/:key/approvals/:callId', kind: 'api', body: () => ({decision: 'once'})},
  {method: 'POST', path: '/oauth/device/code', kind: 'oauth-rfc', form: true, body: () => ({client_id: 'lobu-cli', scope: 'chat'})},
  {method: 'POST', path: '/oauth/token', kind: 'oauth-rfc', form: true, body: () => ({grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x', client_id: 'lobu-cli'})},
  {method: 'GET', path: '/device', kind: 'html'},
  {method: 'POST', path: '/device', kind: 'html', form: true, body: () => ({user_code: 'ABCD-EFGH', email: 'a@b.c', password: 'p', action: 'approve'})},
  {method: 'POST', path: '/oauth/device/approve', kind: 'api', body: () => ({user_code: 'ABCD-EFGH'})},
  {method: 'POST', path: '/api/v1/oauth/connect', kind: 'api', body: () => ({agentId: 'helper', server: 'github'})},
  {method: 'GET', path: '/oauth/callback', kind: 'html'},
  {method: 'GET', path: '/api/v1/oauth/connections', kind: 'api'},
  {method: 'DELETE', path: '/api/v1/oauth/connections/:connId', kind: 'api'},
  {method: 'POST', path: '/api/v1/oauth/keys', kind: 'api', body: () => ({agentId: 'helper', provider: 'anthropic', key: 'sk-ant-fuzz'})},
  {method: 'POST', path: '/oauth/connection-token', kind: 'api', body: () => ({agentId: 'helper', target: 'github'})},
  {method: 'GET', path: '/v1/models', kind: 'openai'},
  {method: 'POST', path: '/v1/chat/completions', kind: 'openai', body: () => ({model: 'helper', messages: [{role: 'user', content: 'hi'}], stream: false})},
]

// ---------------------------------------------------------------------------------------------
// Generators.

const NUL = 'a\u0000b'
const LONE = 'x\ud800y'
const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n)
const deepObject = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n)

/** A value of the wrong kind, or a hostile string. */
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1e308, -0.5, 2 ** 53 + 1, '', ' ', [], {}, NUL, LONE, '\udc00', 'é😀', '../../etc/passwd', "'; DROP TABLE tokens; --"),
  fc.string({maxLength: 40}),
  fc.string({unit: 'binary', maxLength: 40}),
  fc.integer({min: 1000, max: 300_000}).map((n) => 'x'.repeat(n)),
  fc.jsonValue({maxDepth: 3}),
)

/** Mutate a valid JSON object: wrong types, missing fields, unknown fields, hostile strings. */
function mutate(valid: unknown): fc.Arbitrary<unknown> {
  if (typeof valid !== 'object' || valid === null || Array.isArray(valid)) return weirdValue
  const keys = Object.keys(valid)
  if (keys.length === 0) return fc.oneof(weirdValue, fc.dictionary(fc.string({maxLength: 10}), weirdValue, {maxKeys: 3}))
  return fc.oneof(
    // one field replaced by a weird value
    fc.tuple(fc.constantFrom(...keys), weirdValue).map(([k, v]) => ({...valid, [k]: v})),
    // one field missing
    fc.constantFrom(...keys).map((k) => {
      const copy: Record<string, unknown> = {...valid}
      delete copy[k]
      return copy
    }),
    // an unknown field (a hostile key too)
    fc.tuple(fc.oneof(fc.string({maxLength: 20}), fc.constantFrom('__proto__', 'constructor', 'k\u0000', 'k\ud800')), weirdValue).map(([k, v]) => {
      const copy: Record<string, unknown> = {...valid}
      Object.defineProperty(copy, k, {value: v, enumerable: true, writable: true, configurable: true})
      return copy
    }),
    // nested fields mutated too
    fc.constantFrom(...keys).chain((k) => mutate((valid as Record<string, unknown>)[k]).map((v) => ({...valid, [k]: v}))),
    fc.constant(valid),
  )
}

interface Body {
  text: string | Buffer
  contentType?: string
}

function bodyFor(route: Route): fc.Arbitrary<Body | undefined> {
  const valid = route.body?.()
  const jsonText = (v: unknown): string => JSON.stringify(v) ?? 'null'
  const asForm = (v: unknown): string =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? new URLSearchParams(Object.entries(v).map(([k, x]): [string, string] => [k, typeof x === 'string' ? x : jsonText(x)])).toString()
      : String(v)
  const contentType = fc.constantFrom<string | undefined>(
    'application/json',
    'application/json',
    'application/json; charset=utf-8',
    'application/x-www-form-urlencoded',
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/json; charset=latin1',
    'application/xml',
    undefined,
  )
  const structured = fc.oneof(mutate(valid ?? {}), fc.jsonValue({maxDepth: 4}), weirdValue)
  return fc.oneof(
    {weight: 5, arbitrary: fc.tuple(structured, contentType).map(([v, ct]) => ({text: ct === 'application/x-www-form-urlencoded' ? asForm(v) : jsonText(v), contentType: ct}))},
    {weight: 2, arbitrary: route.form ? mutate(valid).map((v) => ({text: asForm(v), contentType: 'application/x-www-form-urlencoded'})) : fc.constant(undefined)},
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          '{bad json',
          '',
          'null',
          '[]',
          '"just a string"',
          deep(5_000),
          deep(100_000),
          deepObject(20_000),
          '{"a":1,"a":2}',
          '\ufeff{}',
          '{"content":"\\u0000"}',
          '{"name":"\\ud800","content":"\\udfff"}',
        )
        .chain((text) => contentType.map((ct) => ({text, contentType: ct}))),
    },
    // bytes that are not UTF-8 (a lone surrogate encoded raw, an invalid byte)
    {weight: 1, arbitrary: fc.constantFrom(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), Buffer.from([0xff, 0xfe, 0x00])).map((b) => ({text: b, contentType: 'application/json'}))},
    {weight: 1, arbitrary: fc.constant(undefined)},
  )
}

interface Params {
  tokenId: string
  slug: string
  agentId: string
  key: string
  connId: string
  /** A user who is not the admin (the fuzzer must not remove the token's own user). */
  user: string
  callId: string
}

function paramValue(valid: string): fc.Arbitrary<string> {
  return fc.oneof(
    {weight: 3, arbitrary: fc.constant(valid)},
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '0',
        '-1',
        'x'.repeat(5000),
        '%00',
        '%ZZ',
        '%ED%A0%80',
        '..%2F..%2Fetc%2Fpasswd',
        "'%3B%20DROP%20TABLE%20agents",
        'A-UPPER',
        '%F0%9F%98%80',
        '00000000-0000-0000-0000-000000000000',
        '%20',
        'a%0Ab',
      ),
    },
    {weight: 2, arbitrary: fc.string({maxLength: 30}).map((s) => encodeURIComponent(s) || 'e')},
  )
}

interface Req {
  route: Route
  method: string
  path: string
  body?: Body
  token: 'valid' | 'none' | 'garbage'
}

function requestFor(params: Params): fc.Arbitrary<Req> {
  return fc.constantFrom(...ROUTES).chain((route) => {
    const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1] as keyof Params)
    const pathArb = fc.tuple(...names.map((n) => paramValue(params[n])), fc.constantFrom('', '', '', '?x=1', '?agentId=%00', '?user_code=%ED%A0%80', '?state=a&code=b', '?agentId=helper', '?pattern=*', '?pattern=%00')).map((values) => {
      let i = 0
      const path = route.path.replace(/:(\w+)/g, () => values[i++] as string)
      return path + (values[values.length - 1] as string)
    })
    const method = fc.oneof({weight: 6, arbitrary: fc.constant(route.method)}, {weight: 3, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'TRACE')})
    const token = fc.constantFrom<Req['token']>('valid', 'valid', 'valid', 'valid', 'valid', 'none', 'garbage')
    return fc.record({route: fc.constant(route), method, path: pathArb, body: bodyFor(route), token})
  })
}

// ---------------------------------------------------------------------------------------------
// Sending, and what every response must satisfy.

interface Res {
  status: number
  contentType: string
  text: string
}

function send(url: string, req: {method: string; path: string; headers: Record<string, string>; body?: string | Buffer}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const r = request(url + req.path, {method: req.method, headers: req.headers, agent: false}, (res) => {
      const contentType = String(res.headers['content-type'] ?? '')
      // A stream (a turn's events) is not read to its end: the first bytes are enough, then
      // the client goes away as a real one may.
      const streaming = contentType.includes('text/event-stream')
      const chunks: Buffer[] = []
      const finish = () => resolve({status: res.statusCode ?? 0, contentType, text: Buffer.concat(chunks).toString('utf8')})
      res.on('data', (c: Buffer) => {
        chunks.push(c)
        if (streaming) {
          res.destroy()
          finish()
        }
      })
      res.on('end', finish)
      res.on('error', () => finish())
      if (streaming) setTimeout(() => (res.destroy(), finish()), 2000).unref()
    })
    r.setTimeout(30_000, () => r.destroy(new Error(`no answer in 30 s: ${req.method} ${req.path}`)))
    r.on('error', reject)
    r.end(req.body)
  })
}

const STACK = /\bat (?:async )?[\w$.<>[\] ]*\(?(?:file:\/\/|node:|\/)[^\s)]*:\d+(?::\d+)?\)?/
const SQL = /\b(?:SELECT|INSERT|UPDATE|DELETE FROM)\s+[\w*"]|syntax error at|violates (?:not-null|unique|foreign key|check) constraint|relation "\w+"/

function problems(req: Req, res: Res, secrets: string[]): string[] {
  const out: string[] = []
  if (res.status >= 500) out.push(`status ${res.status}`)
  if (STACK.test(res.text)) out.push(`a stack trace in the body: ${STACK.exec(res.text)?.[0]}`)
  if (SQL.test(res.text)) out.push(`SQL text in the body: ${SQL.exec(res.text)?.[0]}`)
  for (const s of secrets) if (res.text.includes(s)) out.push(`a secret in the body (${s.slice(0, 8)}…)`)
  if (res.status >= 400 && req.method !== 'HEAD') {
    const pathOnly = req.path.split('?')[0]
    const html = res.contentType.includes('text/html')
    let body: any
    try {
      body = JSON.parse(res.text)
    } catch {
      body = undefined
    }
    const browserPage = (pathOnly === '/device' || pathOnly === '/oauth/callback') && (req.method === 'GET' || req.method === 'POST')
    if (browserPage && html) return out
    if (body === undefined || !res.contentType.includes('application/json')) {
      out.push(`error body is not JSON (${res.contentType}): ${res.text.slice(0, 120)}`)
      return out
    }
    const rfc = (pathOnly === '/oauth/device/code' || pathOnly === '/oauth/token') && typeof body.error === 'string'
    const openai = pathOnly.startsWith('/v1/') && typeof body.error?.message === 'string' && typeof body.error?.type === 'string'
    const ours = typeof body.error?.code === 'string' && typeof body.error?.message === 'string'
    if (!rfc && !openai && !ours) out.push(`error body has no code: ${res.text.slice(0, 160)}`)
  }
  return out
}

// ---------------------------------------------------------------------------------------------

describe('fuzzer over every gateway route', () => {
  let fake: FakeProvider
  let gw: TestGateway
  let params: Params
  let secrets: string[]

  /** The agent the valid requests name (the fuzzer may delete or change it). */
  const putHelper = async () => {
    const put = await gw.api('/api/v1/agents/helper', {
      method: 'PUT',
      body: {files: {identity: 'You are Helper.', skills: []}, providers: [{id: 'anthropic', model: 'claude-sonnet-4-5', baseUrl: fake.urls.anthropic, key: {kind: 'secret', name: 'ANTHROPIC_API_KEY'}}]},
    })
    expect(put.status, put.text).toBeLessThan(300)
  }

  beforeAll(async () => {
    fake = await startFakeProvider()
    fake.reply('fuzz reply')
    gw = await startTestGateway({env: {OPENAI_API_KEY: OPENAI_ENV_KEY, ENCRYPTION_KEY, LOBU_PROVIDER_TIMEOUT_MS: '2000'}})
    const orgId = (await gw.api('/api/v1/whoami')).body.org.id
    const key = gw.gateway.installKey
    await gw.store.secrets.upsert({orgId, name: 'ANTHROPIC_API_KEY', ciphertext: encryptSecret(key, PROVIDER_SECRET), keyedHash: keyedHash(key, PROVIDER_SECRET)})
    await putHelper()
    const token = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'victim', scopes: ['chat']}})
    expect(token.status, token.text).toBe(201)
    const session = await gw.api('/api/v1/sessions', {method: 'POST', body: {agentId: 'helper', thread: 'fuzz'}})
    expect(session.status, session.text).toBeLessThan(300)
    const org = await gw.createOrg('fuzz-target')
    params = {tokenId: token.body.id, slug: org.slug, agentId: 'helper', key: session.body.sessionKey, connId: '00000000-0000-0000-0000-000000000000', user: org.userId, callId: 'call_1'}
    secrets = [gw.adminToken, ENCRYPTION_KEY, PROVIDER_SECRET, OPENAI_ENV_KEY, key.toString('base64'), key.toString('hex')]
  })
  afterAll(async () => {
    await gw?.close()
    await fake?.close()
  })

  it(`${RUNS} generated requests: no 5xx, errors JSON with a code, no stack, SQL or secret (seed ${SEED})`, async () => {
    process.stdout.write(`fuzz: seed ${SEED}, ${RUNS} requests (replay: LOBU_STRESS_SEED=${SEED} npm run test:stress)\n`)
    const statuses = new Map<number, number>()
    const routesHit = new Set<string>()
    const property = fc.asyncProperty(requestFor(params), async (req) => {
      const headers: Record<string, string> = {}
      if (req.token === 'valid') headers.authorization = `Bearer ${gw.adminToken}`
      if (req.token === 'garbage') headers.authorization = 'Bearer lobu_pat_' + 'z'.repeat(40)
      if (req.body?.contentType) headers['content-type'] = req.body.contentType
      // Framed like any client would (node:http sends no length for a DELETE's body).
      if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body.text))
      const res = await send(gw.url, {method: req.method, path: req.path, headers, body: req.body?.text})
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      routesHit.add(`${req.route.method} ${req.route.path}`)
      const found = problems(req, res, secrets)
      if (found.length > 0) {
        const shown = typeof req.body?.text === 'string' ? req.body.text.slice(0, 200) : req.body?.text.toString('hex')
        throw new Error(`${req.method} ${req.path.slice(0, 200)} (${req.body?.contentType ?? 'no content type'}, token ${req.token}, body ${shown}) → ${res.status}: ${found.join('; ')}\n${res.text.slice(0, 300)}`)
      }
    })
    try {
      await fc.assert(property, {seed: SEED, numRuns: RUNS, endOnFailure: true})
    } catch (err) {
      process.stdout.write(`fuzz: FAILED with seed ${SEED} (replay: LOBU_STRESS_SEED=${SEED} npm run test:stress)\n`)
      throw err
    }
    process.stdout.write(`fuzz: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}\n`)
    expect([...routesHit].sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort())

    // Still alive, and still serving.
    const health = await gw.api('/health', {token: null})
    expect(health.status).toBe(200)
    const agents = await gw.api('/api/v1/agents')
    expect(agents.status, agents.text).toBe(200)
    await putHelper()
    const chat = await gw.api('/v1/chat/completions', {method: 'POST', body: {model: 'helper', messages: [{role: 'user', content: 'still there?'}]}})
    expect(chat.status, chat.text).toBe(200)
    expect(chat.body.choices[0].message.content).toBe('fuzz reply')
  })
})

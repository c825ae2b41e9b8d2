import {join} from 'node:path'

import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {exitCodeOf} from '../../../src/lib/cli/exit.js'
import {LobuError} from '../../../src/lib/core/errors.js'
import {ApiClient, clientForContext, httpStatusOf} from '../../../src/lib/client/index.js'
import {addContext, resolveContext} from '../../../src/lib/context/index.js'
import {saveToken} from '../../../src/lib/credentials/index.js'
import {type TestServer, closedPort, json, startServer} from './helpers.js'
import {catchLobuError, useTempConfigDir} from '../../support/config-dir.js'

// A fresh config dir per test, not created yet: the first write creates it.
const tmp = useTempConfigDir('lobu-client-')
let root: string
let env: Record<string, string | undefined>
beforeEach(() => {
  ;({root, env} = tmp)
})

async function rejection(promise: Promise<unknown>): Promise<LobuError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(LobuError)
    return error as LobuError
  }
  throw new Error('expected a rejection')
}

const stored = (token: string) => ({token, tokenId: 'tok_a', org: 'local', user: 'me', scopes: ['chat'], expiresAt: null})

describe('token origin binding (S2)', () => {
  let a: TestServer
  let b: TestServer

  beforeAll(async () => {
    const whoami = (_req: unknown, res: Parameters<typeof json>[0]) => json(res, 200, {ok: true})
    a = await startServer(whoami)
    b = await startServer(whoami)
  })

  afterAll(async () => {
    await a.close()
    await b.close()
  })

  beforeEach(() => {
    a.seen.length = 0
    b.seen.length = 0
  })

  it('sends a stored token to its own origin only', async () => {
    addContext('a', a.url, env)
    addContext('b', b.url, env)
    saveToken(a.origin, stored('lobu_pat_for_a'), env)

    const clientA = clientForContext(resolveContext({env, flag: 'a'}), {requireToken: true, env})
    await clientA.get('/api/v1/whoami')
    expect(a.seen[0]?.headers.authorization).toBe('Bearer lobu_pat_for_a')

    // The same client asked for a URL on origin B: no Authorization header.
    await clientA.get(`${b.url}/api/v1/whoami`)
    expect(b.seen).toHaveLength(1)
    expect(b.seen[0]?.headers.authorization).toBeUndefined()

    // Context B has no token of its own: exit 3, and nothing is sent to B.
    const error = catchLobuError(() => clientForContext(resolveContext({env, flag: 'b'}), {requireToken: true, env}))
    expect(exitCodeOf(error)).toBe(3)
    expect(error.hint).toContain('lobu oauth login -c b')
    expect(b.seen).toHaveLength(1)

    // Without requireToken the client for B talks to B without any token.
    const anonymous = clientForContext(resolveContext({env, flag: 'b'}), {requireToken: false, env})
    expect(anonymous.hasToken).toBe(false)
    await anonymous.get('/health')
    expect(b.seen[1]?.headers.authorization).toBeUndefined()
  })

  it('does not follow a context whose URL moved to another origin', async () => {
    addContext('a', a.url, env)
    saveToken(a.origin, stored('lobu_pat_for_a'), env)
    // Point "a" at B (as a user editing config.json would): the token stays with origin A.
    const {setContext} = await import('../../../src/lib/context/index.js')
    setContext('a', b.url, env)
    const error = catchLobuError(() => clientForContext(resolveContext({env, flag: 'a'}), {requireToken: true, env}))
    expect(exitCodeOf(error)).toBe(3)
    expect(b.seen).toHaveLength(0)
  })

  it('sends LOBU_TOKEN to the selected context only', async () => {
    addContext('b', b.url, env)
    saveToken(a.origin, stored('lobu_pat_for_a'), env)
    const withEnv = {...env, LOBU_TOKEN: 'lobu_pat_env'}
    const client = clientForContext(resolveContext({env: withEnv, flag: 'b'}), {requireToken: true, env: withEnv})
    expect(client.tokenSource).toBe('env')
    await client.get('/api/v1/whoami')
    await client.get(`${a.url}/api/v1/whoami`)
    expect(b.seen[0]?.headers.authorization).toBe('Bearer lobu_pat_env')
    expect(a.seen[0]?.headers.authorization).toBeUndefined()
  })

  it('gives the local context the `lobu run` hint when it has no token', () => {
    const error = catchLobuError(() => clientForContext(resolveContext({env}), {requireToken: true, env}))
    expect(exitCodeOf(error)).toBe(3)
    expect(error.message).toBe('no token for context "local" (http://127.0.0.1:8787)')
    expect(error.hint).toContain('lobu run')
  })
})

describe('requests and error mapping', () => {
  let server: TestServer

  beforeAll(async () => {
    server = await startServer((req, res) => {
      const status = Number(new URL(req.url, 'http://x').searchParams.get('status') ?? 200)
      if (req.url.startsWith('/echo')) return json(res, 201, {method: req.method, body: JSON.parse(req.body || 'null')})
      if (req.url.startsWith('/empty')) {
        res.writeHead(204)
        return res.end()
      }
      if (req.url.startsWith('/html')) {
        res.writeHead(200, {'content-type': 'text/html'})
        return res.end('<html>hi</html>')
      }
      if (req.url.startsWith('/plain')) {
        res.writeHead(status, {'content-type': 'text/plain'})
        return res.end('upstream exploded')
      }
      json(res, status, {error: {code: `CODE_${status}`, message: `message ${status}`, ...(status === 409 ? {hint: 'replan'} : {})}})
    })
  })

  afterAll(async () => {
    await server.close()
  })

  const client = () => new ApiClient({baseUrl: server.url + '/', token: 'lobu_pat_x', contextName: 'prod'})

  it('sends JSON and parses JSON; an empty 204 resolves to undefined', async () => {
    const res = await client().post<{method: string; body: unknown}>('/echo', {a: 1})
    expect(res).toEqual({method: 'POST', body: {a: 1}})
    const seen = server.seen.at(-1)!
    expect(seen.headers['content-type']).toBe('application/json')
    expect(seen.headers.accept).toBe('application/json')
    expect(seen.headers.authorization).toBe('Bearer lobu_pat_x')
    expect(await client().put('/echo', {b: 2})).toEqual({method: 'PUT', body: {b: 2}})
    expect(await client().delete('/empty')).toBeUndefined()
  })

  it.each([
    [400, 2, 'UsageError'],
    [401, 3, 'AuthError'],
    [403, 3, 'AuthError'],
    [404, 1, 'OperationError'],
    [409, 1, 'OperationError'],
    [413, 2, 'UsageError'],
    [500, 1, 'OperationError'],
    [503, 1, 'OperationError'],
  ])('maps HTTP %i to exit %i (%s) with the server code', async (status, exitCode, name) => {
    const error = await rejection(client().get(`/fail?status=${status}`))
    expect(exitCodeOf(error)).toBe(exitCode)
    expect(error.name).toBe(name)
    expect(error.code).toBe(`CODE_${status}`)
    expect(error.message).toContain(`message ${status}`)
    expect(httpStatusOf(error)).toBe(status)
  })

  it('keeps the server hint, and adds one of its own otherwise', async () => {
    expect((await rejection(client().get('/fail?status=409'))).hint).toBe('replan')
    expect((await rejection(client().get('/fail?status=401'))).hint).toContain('lobu oauth login -c prod')
    const local = new ApiClient({baseUrl: server.url, token: 't', contextName: 'local'})
    expect((await rejection(local.get('/fail?status=401'))).hint).toContain('lobu run')
    const fromEnv = new ApiClient({baseUrl: server.url, token: 't', tokenSource: 'env', contextName: 'prod'})
    expect((await rejection(fromEnv.get('/fail?status=401'))).hint).toContain('LOBU_TOKEN')
  })

  it('maps a non-JSON error body and a non-JSON success body', async () => {
    const error = await rejection(client().get('/plain?status=502'))
    expect(exitCodeOf(error)).toBe(1)
    expect(error.message).toBe('the gateway failed: upstream exploded')
    const bad = await rejection(client().get('/html'))
    expect(exitCodeOf(bad)).toBe(1)
    expect(bad.code).toBe('BAD_RESPONSE')
  })

  it('maps connection refused to exit 1 with a hint that fits the context', async () => {
    const port = await closedPort()
    const local = await rejection(new ApiClient({baseUrl: `http://127.0.0.1:${port}`, contextName: 'local'}).get('/health'))
    expect(exitCodeOf(local)).toBe(1)
    expect(local.message).toBe(`cannot reach the gateway at http://127.0.0.1:${port}`)
    expect(local.hint).toContain('lobu run')
    const remote = await rejection(new ApiClient({baseUrl: `http://127.0.0.1:${port}`, contextName: 'prod'}).get('/health'))
    expect(remote.hint).toContain('lobu context list')
  })

  it('never follows a redirect (the token could leave its origin): exit 1, UNEXPECTED_REDIRECT', async () => {
    const elsewhere = await startServer((_req, res) => json(res, 200, {ok: true}))
    const moved = await startServer((_req, res) => {
      res.writeHead(302, {location: `${elsewhere.url}/api/v1/whoami`})
      res.end()
    })
    try {
      const error = await rejection(new ApiClient({baseUrl: moved.url, token: 'lobu_pat_x', contextName: 'prod'}).get('/api/v1/whoami'))
      expect(exitCodeOf(error)).toBe(1)
      expect(error.code).toBe('UNEXPECTED_REDIRECT')
      expect(elsewhere.seen).toHaveLength(0)
    } finally {
      await moved.close()
      await elsewhere.close()
    }
  })

  it('an answer cut before its end is "cannot reach the gateway" (exit 1)', async () => {
    const cut = await startServer((_req, res) => {
      res.writeHead(200, {'content-type': 'application/json', 'content-length': '100'})
      res.write('{"partial":')
      setTimeout(() => res.destroy(), 20)
    })
    try {
      const error = await rejection(new ApiClient({baseUrl: cut.url, contextName: 'prod'}).get('/x'))
      expect(exitCodeOf(error)).toBe(1)
      expect(error.code).toBe('GATEWAY_UNREACHABLE')
    } finally {
      await cut.close()
    }
  })

  it('an aborted request rejects with an AbortError, not a LobuError', async () => {
    const silent = await startServer(() => new Promise(() => {})) // never answers
    try {
      const controller = new AbortController()
      const pending = new ApiClient({baseUrl: silent.url}).get('/slow', undefined, {signal: controller.signal})
      setTimeout(() => controller.abort(), 20)
      const error = (await pending.catch((e: unknown) => e)) as Error
      expect(error).not.toBeInstanceOf(LobuError)
      expect(error.name).toBe('AbortError')
      const already = (await new ApiClient({baseUrl: silent.url}).get('/slow', undefined, {signal: AbortSignal.abort()}).catch((e: unknown) => e)) as Error
      expect(already.name).toBe('AbortError')
    } finally {
      await silent.close()
    }
  })

  it('rejects a GET with a body before sending anything', async () => {
    const before = server.seen.length
    await expect(client().get('/echo', {x: 1} as never)).rejects.toThrow(TypeError)
    expect(server.seen).toHaveLength(before)
  })
})

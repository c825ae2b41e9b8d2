import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {EgressPolicy, EgressRefusedError, agentUrlProblems, egressRefusal, parseAllowList} from '../../../../src/lib/gateway/egress/index.js'
import {parseIp, refusedKind} from '../../../../src/lib/gateway/egress/address.js'

/** A loopback listener that counts the requests it sees; `redirectTo` answers 302 there. */
async function listener(redirectTo?: () => string): Promise<{server: Server; port: number; hits: string[]; close(): Promise<void>}> {
  const hits: string[] = []
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url} auth=${req.headers.authorization ?? ''}`)
    if (redirectTo) {
      res.writeHead(302, {location: redirectTo()})
      res.end()
      return
    }
    res.writeHead(200, {'content-type': 'text/plain'})
    res.end('internal secret page')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {server, port, hits, close: () => new Promise((r) => server.close(() => r()))}
}

describe('refusedKind', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared (carrier-grade NAT)'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fd00::1', 'private'],
    ['fc00::', 'private'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:7f00:1::', 'loopback'],
  ])('%s is %s', (ip, kind) => {
    expect(refusedKind(ip)).toBe(kind)
  })

  it.each(['8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('%s is public', (ip) => {
    expect(refusedKind(ip)).toBeUndefined()
  })

  it('parses IPv6 with a dotted tail and compressed zeros', () => {
    expect(Array.from(parseIp('::ffff:1.2.3.4')!)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4])
    expect(parseIp('1::2::3')).toBeUndefined()
    expect(refusedKind('not an address')).toBe('unparseable')
  })
})

describe('LOBU_EGRESS_ALLOW', () => {
  it('takes hosts, host:port, [v6]:port and CIDRs', () => {
    expect(parseAllowList('models.internal, 10.0.0.0/8 127.0.0.1:8080 [::1]:9000 fd00::1')).toHaveLength(5)
  })

  it.each(['10.0.0.0/33', 'a:b:c', 'host:99999', '1.2.3.4/x'])('refuses %s with a message naming it', (entry) => {
    expect(() => parseAllowList(entry)).toThrow(entry)
  })
})

describe('a guarded policy (team gateway)', () => {
  let target: Awaited<ReturnType<typeof listener>>
  beforeAll(async () => {
    target = await listener()
  })
  afterAll(() => target.close())

  const forms = (port: number) => [
    `http://127.0.0.1:${port}/v1`,
    `http://127.1:${port}/v1`,
    `http://2130706433:${port}/v1`,
    `http://0x7f000001:${port}/v1`,
    `http://0177.0.0.1:${port}/v1`,
    `http://[::ffff:127.0.0.1]:${port}/v1`,
    `http://[::1]:${port}/v1`,
    `http://localhost:${port}/v1`,
    `http://LOCALHOST.:${port}/v1`,
  ]

  it('refuses every literal form of a loopback address before any connection, and the listener sees nothing', async () => {
    const policy = new EgressPolicy({guarded: true})
    for (const url of forms(target.port)) {
      expect(policy.literalProblem(url), url).toMatch(/loopback/)
      await expect(policy.fetch(url, {headers: {authorization: 'Bearer org-secret'}}), url).rejects.toBeInstanceOf(EgressRefusedError)
    }
    expect(target.hits).toEqual([])
  })

  it('checks the address at connect time: a dispatcher request that skips the URL check is still refused', async () => {
    const undici = await import('undici')
    const policy = new EgressPolicy({guarded: true})
    for (const url of forms(target.port)) {
      const err = await undici.request(url, {dispatcher: policy.dispatcher(undici)}).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(egressRefusal(err), url).toBeInstanceOf(EgressRefusedError)
    }
    await policy.close()
    expect(target.hits).toEqual([])
  })

  it('a name that passes the URL check but resolves to loopback at connect time is refused (DNS rebinding)', async () => {
    let lookups = 0
    const policy = new EgressPolicy({
      guarded: true,
      lookup: async () => {
        lookups++
        // a public address and the loopback one: every address is checked, so this is refused
        return [
          {address: '93.184.216.34', family: 4},
          {address: '127.0.0.1', family: 4},
        ]
      },
    })
    const url = `http://rebind.example:${target.port}/v1`
    expect(policy.literalProblem(url)).toBeUndefined()
    const err = await policy.fetch(url).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(egressRefusal(err)?.message).toMatch(/rebind\.example.*resolves to a loopback address/)
    expect(lookups).toBe(1)
    await policy.close()
    expect(target.hits).toEqual([])
  })

  it('refuses literal link-local, private and unique-local addresses', () => {
    const policy = new EgressPolicy({guarded: true})
    expect(policy.literalProblem('http://169.254.169.254/latest/meta-data')).toMatch(/link-local/)
    expect(policy.literalProblem('http://10.0.0.5/v1')).toMatch(/private/)
    expect(policy.literalProblem('https://192.168.1.10/v1')).toMatch(/private/)
    expect(policy.literalProblem('http://[fd00::1]/v1')).toMatch(/private/)
    expect(policy.literalProblem('https://api.openai.com/v1')).toBeUndefined()
    expect(policy.literalProblem('ftp://example.com/')).toMatch(/http/)
  })

  it('names the field of an agent whose URL is refused', () => {
    const policy = new EgressPolicy({guarded: true})
    const problems = agentUrlProblems(policy, {
      providers: [{baseUrl: 'https://api.openai.com/v1'}, {baseUrl: 'http://169.254.169.254/'}],
      mcp: {files: {url: 'http://10.0.0.1/mcp', oauth: {authUrl: 'https://auth.example/a', tokenUrl: 'http://127.1/token'}}},
    })
    expect(problems.map((p) => p.path.join('.'))).toEqual(['providers.1.baseUrl', 'mcp.files.url', 'mcp.files.oauth.tokenUrl'])
  })

  it('lets an allowed host:port through, but not a redirect from it to another loopback port', async () => {
    const hidden = await listener()
    const front = await listener(() => `http://127.0.0.1:${hidden.port}/internal`)
    const policy = new EgressPolicy({guarded: true, allow: `127.0.0.1:${front.port}`})
    try {
      expect(policy.literalProblem(`http://127.0.0.1:${front.port}/`)).toBeUndefined()
      expect(policy.literalProblem(`http://127.0.0.1:${hidden.port}/`)).toMatch(/loopback/)
      const err = await policy.fetch(`http://127.0.0.1:${front.port}/start`, {headers: {authorization: 'Bearer org-secret'}}).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(egressRefusal(err)?.host).toBe(`127.0.0.1:${hidden.port}`)
      expect(front.hits).toEqual(['GET /start auth=Bearer org-secret'])
      expect(hidden.hits).toEqual([])
    } finally {
      await policy.close()
      await front.close()
      await hidden.close()
    }
  })

  it('follows a redirect within what is allowed, and drops Authorization when the origin changes', async () => {
    const second = await listener()
    const first = await listener(() => `http://localhost:${second.port}/next`)
    const policy = new EgressPolicy({guarded: true, allow: `127.0.0.0/8, localhost:${second.port}`})
    try {
      const res = await policy.fetch(`http://127.0.0.1:${first.port}/a`, {headers: {authorization: 'Bearer k'}})
      expect(res.status).toBe(200)
      expect(first.hits).toEqual(['GET /a auth=Bearer k'])
      expect(second.hits).toEqual(['GET /next auth='])
    } finally {
      await policy.close()
      await first.close()
      await second.close()
    }
  })
})

describe('an unguarded policy (local gateway)', () => {
  it('reaches a model server on 127.0.0.1', async () => {
    const target = await listener()
    const policy = new EgressPolicy({guarded: false})
    try {
      expect(policy.literalProblem(`http://127.0.0.1:${target.port}/v1`)).toBeUndefined()
      const res = await policy.fetch(`http://127.0.0.1:${target.port}/v1`)
      expect(res.status).toBe(200)
      expect(target.hits).toHaveLength(1)
    } finally {
      await policy.close()
      await target.close()
    }
  })
})

describe('OAuth token requests through the guard', () => {
  it('never posts the client secret to a refused token URL, and says which host', async () => {
    const {tokenRequest, ProviderTokenError} = await import('../../../../src/lib/gateway/oauth/provider-client.js')
    const target = await listener()
    const policy = new EgressPolicy({guarded: true})
    try {
      for (const url of [`http://127.1:${target.port}/token`, `http://localhost:${target.port}/token`]) {
        const err = await tokenRequest(url, {grant_type: 'refresh_token', refresh_token: 'r'}, {clientId: 'c', clientSecret: 'org-client-secret'}, new Date(), policy).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(err).toBeInstanceOf(ProviderTokenError)
        expect((err as Error).message).toMatch(/does not connect to (127\.0\.0\.1|localhost)/)
      }
      expect(target.hits).toEqual([])
    } finally {
      await policy.close()
      await target.close()
    }
  })
})

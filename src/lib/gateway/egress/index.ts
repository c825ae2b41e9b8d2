/**
 * The egress guard (docs/SECURITY.md, "Egress"): every outbound request whose URL comes from
 * tenant-set configuration (a provider's `baseUrl`, an MCP server's `url`, OAuth `authUrl` /
 * `tokenUrl`) goes through one EgressPolicy.
 *
 * On a team gateway (PostgreSQL, or bound to a non-loopback address) the policy is guarded:
 * - `literalProblem(url)` refuses a URL whose host is a refused address written literally
 *   (every numeric form the WHATWG URL parser accepts: `127.1`, `2130706433`, `0x7f000001`,
 *   `[::ffff:127.0.0.1]`) or a `localhost` name: the API answers 400 naming the field;
 * - `dispatcher()` is an undici Agent whose every new connection resolves the host itself and
 *   checks EVERY address it resolves to, then connects to the checked address: a name that
 *   resolves to a public address when checked and to 127.0.0.1 when connecting (DNS
 *   rebinding) cannot pass, since there is no second lookup;
 * - `fetch()` follows redirects itself (at most MAX_REDIRECTS), checking each hop like the
 *   first, and drops `Authorization`/`Cookie` when a hop leaves the origin.
 * The operator's `LOBU_EGRESS_ALLOW` (comma-separated `host`, `host:port` or CIDR) lets chosen
 * destinations through. A local gateway's policy is unguarded: a model server on 127.0.0.1
 * is a normal setup there.
 *
 * Errors name the host and the kind of address, never anything the far side sent.
 */
import {lookup as dnsLookup, type LookupAddress} from 'node:dns'
import {isIP, type LookupFunction} from 'node:net'

import type {Agent, Dispatcher} from 'undici'

import {inCidr, parseCidr, parseIp, refusedKind, embeddedIpv4, type Cidr} from './address.js'


type Undici = typeof import('undici')

/** Redirect hops `fetch()` follows before it gives up. */
const MAX_REDIRECTS = 5

/** A destination the guard refuses. `code` is stable for callers that translate it. */
export class EgressRefusedError extends Error {
  readonly code = 'EGRESS_REFUSED'
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super(`the gateway does not connect to ${host}: ${reason} (an operator can allow it with LOBU_EGRESS_ALLOW)`)
    this.name = 'EgressRefusedError'
  }
}

/** LOBU_EGRESS_ALLOW does not parse. */
export class EgressAllowListError extends Error {
  readonly code = 'INVALID_EGRESS_ALLOW'
}

/** The EgressRefusedError in an error's cause chain (undici wraps what a connector reports in fetch). */
export function egressRefusal(err: unknown): EgressRefusedError | undefined {
  for (let e = err as {cause?: unknown} | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e instanceof EgressRefusedError) return e
  }
  return undefined
}

interface AllowEntry {
  /** A host name or address literal, normalised (lower case, no brackets, no trailing dot). */
  host?: string
  hostBytes?: Uint8Array
  port?: number
  cidr?: Cidr
}

/** `Host`-like name as the URL parser normalises it, without IPv6 brackets or a trailing dot. */
function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (isIP(h) === 0 && URL.canParse(`http://${h}/`)) h = new URL(`http://${h}/`).hostname
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  return h.replace(/\.$/, '')
}

/** Parse LOBU_EGRESS_ALLOW: comma- or space-separated `host`, `host:port`, `[v6]:port` or CIDR. */
export function parseAllowList(text: string | undefined): AllowEntry[] {
  const entries: AllowEntry[] = []
  for (const raw of (text ?? '').split(/[\s,]+/)) {
    if (raw === '') continue
    if (raw.includes('/')) {
      const cidr = parseCidr(raw)
      if (!cidr) throw new EgressAllowListError(`LOBU_EGRESS_ALLOW: "${raw}" is not a CIDR like 10.1.0.0/16`)
      entries.push({cidr})
      continue
    }
    let hostText = raw
    let portText: string | undefined
    if (isIP(raw) !== 6) {
      const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(raw)
      if (!m) throw new EgressAllowListError(`LOBU_EGRESS_ALLOW: "${raw}" is not a host, host:port or CIDR`)
      hostText = m[1]!
      portText = m[2]
    }
    const host = normalizeHost(hostText)
    const port = portText === undefined ? undefined : Number(portText)
    if (!host || !URL.canParse(`http://${isIP(host) === 6 ? `[${host}]` : host}/`) || (port !== undefined && (port < 1 || port > 65535))) {
      throw new EgressAllowListError(`LOBU_EGRESS_ALLOW: "${raw}" is not a host, host:port or CIDR`)
    }
    entries.push({host, hostBytes: parseIp(host), port})
  }
  return entries
}

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80
}

export interface EgressPolicyOptions {
  /** Check tenant-set destinations (a team gateway). */
  guarded: boolean
  /** The operator's allow list (LOBU_EGRESS_ALLOW). */
  allow?: string
  /** DNS lookup (tests); default node:dns lookup. */
  lookup?: (hostname: string) => Promise<LookupAddress[]>
  /** Connect timeout of the dispatcher (ms). */
  connectTimeoutMs?: number
}

export interface EgressFetchInit extends RequestInit {
  /** Hops followed at most (default MAX_REDIRECTS); 0 returns the first answer as it is. */
  maxRedirects?: number
}

const systemLookup = (hostname: string): Promise<LookupAddress[]> =>
  new Promise((resolve, reject) => dnsLookup(hostname, {all: true, verbatim: true}, (err, addresses) => (err ? reject(err) : resolve(addresses))))

export class EgressPolicy {
  readonly guarded: boolean
  readonly #allow: AllowEntry[]
  readonly #lookup: (hostname: string) => Promise<LookupAddress[]>
  readonly #connectTimeoutMs: number
  #agent: Agent | undefined

  constructor(opts: EgressPolicyOptions) {
    this.guarded = opts.guarded
    this.#allow = parseAllowList(opts.allow)
    this.#lookup = opts.lookup ?? systemLookup
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 15_000
  }

  #allowedName(host: string, port: number): boolean {
    return this.#allow.some((e) => e.host !== undefined && e.host === host && (e.port === undefined || e.port === port))
  }

  #allowedAddress(bytes: Uint8Array, port: number): boolean {
    const inner = embeddedIpv4(bytes)
    return this.#allow.some((e) => {
      if (e.cidr) return inCidr(bytes, e.cidr) || inCidr(inner, e.cidr)
      if (!e.hostBytes || (e.port !== undefined && e.port !== port)) return false
      const allowed = embeddedIpv4(e.hostBytes)
      return allowed.length === inner.length && allowed.every((b, i) => b === inner[i])
    })
  }

  /**
   * What is wrong with a tenant-set URL before any connection: not http(s), or (guarded) a
   * literal refused address or a `localhost` name. Undefined when it may be used.
   */
  literalProblem(url: string): string | undefined {
    if (!URL.canParse(url)) return 'is not a URL'
    const u = new URL(url)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http(s) URL'
    if (!this.guarded) return undefined
    const host = normalizeHost(u.hostname)
    const port = u.port ? Number(u.port) : defaultPort(u.protocol)
    if (this.#allowedName(host, port)) return undefined
    if (host === 'localhost' || host.endsWith('.localhost')) return `${u.hostname} is a loopback name`
    const bytes = parseIp(host)
    if (!bytes) return undefined
    const kind = refusedKind(bytes)
    if (kind && !this.#allowedAddress(bytes, port)) return `${u.hostname} is a ${kind} address`
    return undefined
  }

  /** Throw EgressRefusedError when `literalProblem` finds one. */
  assertUrl(url: string): void {
    const problem = this.literalProblem(url)
    if (problem) throw new EgressRefusedError(URL.canParse(url) ? new URL(url).host : 'this URL', problem)
  }

  /**
   * Resolve `hostname` and check every address it resolves to (guarded), for a connection to
   * `port`. Returns the address to connect to; throws EgressRefusedError.
   */
  async resolve(hostname: string, port: number): Promise<LookupAddress> {
    const host = normalizeHost(hostname)
    const literal = parseIp(host)
    const addresses = literal ? [{address: host, family: literal.length === 4 ? 4 : 6}] : await this.#lookup(host)
    if (addresses.length === 0) throw Object.assign(new Error(`${host} does not resolve`), {code: 'ENOTFOUND'})
    if (!this.guarded || this.#allowedName(host, port)) return addresses[0]!
    for (const a of addresses) {
      const bytes = parseIp(a.address)
      const kind = bytes ? refusedKind(bytes) : 'unparseable'
      if (kind && !(bytes && this.#allowedAddress(bytes, port))) {
        throw new EgressRefusedError(hostname, literal ? `it is a ${kind} address` : `it resolves to a ${kind} address`)
      }
    }
    return addresses[0]!
  }

  /** A `net`/`dns`-style lookup through `resolve` (port-specific allow entries do not apply). */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname, 0).then(
      (a) => (options.all ? (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [a]) : callback(null, a.address, a.family)),
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    )
  }

  /**
   * The undici dispatcher for tenant-set destinations: keep-alive pool, and every new
   * connection goes through `resolve` (guarded) and connects to the address it checked.
   */
  dispatcher(undici: Undici): Agent {
    if (this.#agent) return this.#agent
    const base = undici.buildConnector({timeout: this.#connectTimeoutMs})
    const connect: typeof base = (opts, callback) => {
      if (!this.guarded) return base(opts, callback)
      const port = opts.port ? Number(opts.port) : defaultPort(opts.protocol)
      this.resolve(opts.hostname, port).then(
        // `host` stays the name: TLS verifies the certificate for it (SNI), the socket goes to the checked address.
        (a) => base({...opts, hostname: a.address}, callback),
        (err: Error) => callback(err, null),
      )
    }
    this.#agent = new undici.Agent({keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, headersTimeout: 0, bodyTimeout: 0, connect})
    return this.#agent
  }

  /**
   * fetch through `dispatcher()`, following redirects here, each hop checked (`assertUrl`, then
   * `resolve` at connect). 301/302/303 of a POST become a GET without body, as browsers do;
   * `Authorization` and `Cookie` are dropped once a hop leaves the first origin.
   */
  async fetch(input: string | URL, init: EgressFetchInit = {}): Promise<Response> {
    const undici = await import('undici')
    const {maxRedirects = MAX_REDIRECTS, ...rest} = init
    let url = new URL(String(input))
    const origin = url.origin
    let method = (rest.method ?? 'GET').toUpperCase()
    let body = rest.body
    const headers = new Headers(rest.headers)
    for (let hop = 0; ; hop++) {
      this.assertUrl(url.href)
      const res = (await undici.fetch(url, {
        ...(rest as object),
        method,
        headers: Object.fromEntries(headers),
        body: body as never,
        redirect: 'manual',
        dispatcher: this.dispatcher(undici) as Dispatcher,
      })) as unknown as Response
      const location = res.headers.get('location')
      if (![301, 302, 303, 307, 308].includes(res.status) || location === null || rest.redirect === 'manual') return res
      await res.body?.cancel().catch(() => {})
      if (hop >= maxRedirects) throw new EgressRefusedError(url.host, `more than ${maxRedirects} redirects`)
      const next = URL.canParse(location, url.href) ? new URL(location, url.href) : undefined
      if (!next) throw new EgressRefusedError(url.host, 'it redirected to something that is not a URL')
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET'
        body = undefined
        headers.delete('content-type')
        headers.delete('content-length')
      } else if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array) && !(body instanceof URLSearchParams)) {
        throw new EgressRefusedError(url.host, 'it redirected a request whose body cannot be sent again')
      }
      if (next.origin !== origin) {
        headers.delete('authorization')
        headers.delete('cookie')
        headers.delete('proxy-authorization')
      }
      url = next
    }
  }

  /** Close the dispatcher's connections (gateway shutdown). */
  async close(): Promise<void> {
    const agent = this.#agent
    this.#agent = undefined
    if (agent) await agent.close().catch(() => agent.destroy())
  }
}

/** A tenant-set URL field of an agent's configuration, with its path (`providers.0.baseUrl`). */
interface UrlField {
  path: (string | number)[]
  url: string
}

/** Every URL of an agent's configuration that the gateway (or a browser it sends) may contact. */
function agentUrlFields(spec: {providers?: ReadonlyArray<{baseUrl?: string}>; mcp?: Readonly<Record<string, {url?: string; oauth?: {authUrl: string; tokenUrl: string}}>>}): UrlField[] {
  const fields: UrlField[] = []
  spec.providers?.forEach((p, i) => {
    if (p.baseUrl) fields.push({path: ['providers', i, 'baseUrl'], url: p.baseUrl})
  })
  for (const [id, server] of Object.entries(spec.mcp ?? {})) {
    if (server.url) fields.push({path: ['mcp', id, 'url'], url: server.url})
    if (server.oauth) {
      fields.push({path: ['mcp', id, 'oauth', 'authUrl'], url: server.oauth.authUrl})
      fields.push({path: ['mcp', id, 'oauth', 'tokenUrl'], url: server.oauth.tokenUrl})
    }
  }
  return fields
}

/** The refused URL fields of an agent: `[{path, message}]`, empty when every one may be used. */
export function agentUrlProblems(policy: EgressPolicy, spec: Parameters<typeof agentUrlFields>[0]): {path: (string | number)[]; message: string}[] {
  const problems: {path: (string | number)[]; message: string}[] = []
  for (const field of agentUrlFields(spec)) {
    const problem = policy.literalProblem(field.url)
    if (problem) problems.push({path: field.path, message: `${problem}: this gateway does not send requests there for an agent's configuration`})
  }
  return problems
}


/**
 * A tiny GET for probes: node:http(s) only (no undici, no keep-alive), one overall timeout, a
 * JSON body parsed when it is JSON. Never throws: an unreachable URL is a result too.
 */
import http from 'node:http'
import https from 'node:https'

export type ProbeResult =
  | {kind: 'response'; status: number; body: unknown}
  | {kind: 'unreachable'; reason: string}

const MAX_BODY = 256 * 1024

function reasonOf(error: NodeJS.ErrnoException, timeoutMs: number, timedOut: boolean): string {
  if (timedOut) return `no answer within ${formatSeconds(timeoutMs)}`
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found'
    case 'ECONNRESET':
      return 'connection reset'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable'
    default:
      return error.message || String(error)
  }
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`
}

export function probeJson(url: string, opts: {timeoutMs: number; token?: string}): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false
    let timedOut = false
    const done = (result: ProbeResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
    }
    let target: URL
    try {
      target = new URL(url)
    } catch {
      resolve({kind: 'unreachable', reason: `invalid URL ${url}`})
      return
    }
    const headers: Record<string, string> = {accept: 'application/json', connection: 'close'}
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    const get = target.protocol === 'https:' ? https.get : http.get
    const req = get(target, {agent: false, headers}, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size <= MAX_BODY) chunks.push(chunk)
      })
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown
        try {
          body = text === '' ? undefined : (JSON.parse(text) as unknown)
        } catch {
          body = undefined
        }
        done({kind: 'response', status: res.statusCode ?? 0, body})
      })
      res.on('error', (error) => done({kind: 'unreachable', reason: reasonOf(error, opts.timeoutMs, timedOut)}))
    })
    req.on('error', (error: NodeJS.ErrnoException) => done({kind: 'unreachable', reason: reasonOf(error, opts.timeoutMs, timedOut)}))
    const timer = setTimeout(() => {
      timedOut = true
      req.destroy(new Error('timeout'))
    }, opts.timeoutMs)
  })
}

export interface GatewayHealth {
  version?: string
  /** The project the gateway serves (null: none). */
  project: string | null
  /** 503: the gateway is starting or stopping. */
  starting: boolean
}

/** What answers at a base URL: a Lobu gateway (its /health), something else, or nothing. */
export type HealthResult =
  | {kind: 'gateway'; health: GatewayHealth}
  | {kind: 'other'; status: number}
  | {kind: 'unreachable'; reason: string}

export async function probeHealth(baseUrl: string, timeoutMs: number): Promise<HealthResult> {
  const r = await probeJson(`${baseUrl.replace(/\/+$/, '')}/health`, {timeoutMs})
  if (r.kind === 'unreachable') return r
  const body = (typeof r.body === 'object' && r.body !== null ? r.body : {}) as {
    ok?: unknown
    version?: unknown
    project?: unknown
    error?: {code?: unknown}
  }
  if (r.status === 200 && typeof body.ok === 'boolean') {
    return {
      kind: 'gateway',
      health: {
        version: typeof body.version === 'string' ? body.version : undefined,
        project: typeof body.project === 'string' ? body.project : null,
        starting: body.ok === false,
      },
    }
  }
  // A gateway that is starting or shutting down answers every request with 503 UNAVAILABLE.
  if (r.status === 503 && body.error?.code === 'UNAVAILABLE') return {kind: 'gateway', health: {project: null, starting: true}}
  return {kind: 'other', status: r.status}
}

/**
 * docs/SECURITY.md S8: DNS-rebinding and cross-origin guards.
 * - Bound to loopback: the `Host` header must be a loopback name (127.0.0.1, localhost, [::1],
 *   with or without a port), and an `Origin` header must be the gateway's own origin.
 * - Bound elsewhere (a team gateway behind a proxy): an `Origin` must name the host the request
 *   was sent to (same-origin only).
 * No CORS headers are ever sent.
 */
import {isIP} from 'node:net'

import type {MiddlewareHandler} from 'hono'

import {errorBody} from './errors.js'
import {requestHeader} from './node.js'
import type {AppEnv} from './types.js'

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** True for a host to bind to that only accepts local connections. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}

/** Split `name[:port]` (IPv6 in brackets); undefined when malformed. */
export function splitHostHeader(value: string): {name: string; port?: string} | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value.trim())
  if (!match) return undefined
  return {name: match[1].toLowerCase(), port: match[2]}
}

export function isLoopbackHostHeader(value: string | undefined): boolean {
  if (!value) return false
  const parts = splitHostHeader(value)
  return parts !== undefined && LOOPBACK_NAMES.has(parts.name)
}

/** The origins a browser page served by this gateway would send. */
export function ownOrigins(port: number): Set<string> {
  return new Set([...LOOPBACK_NAMES].map((name) => `http://${name}:${port}`))
}

export interface GuardOptions {
  loopback: boolean
  port: number
}

export function originGuard(opts: GuardOptions): MiddlewareHandler<AppEnv> {
  const origins = ownOrigins(opts.port)
  return async (c, next) => {
    const host = requestHeader(c, 'host')
    if (opts.loopback && !isLoopbackHostHeader(host)) {
      return c.json(errorBody('FORBIDDEN_HOST', `requests to this gateway must use a loopback host name, not "${host ?? ''}"`, `use http://127.0.0.1:${opts.port}`), 403)
    }
    const origin = requestHeader(c, 'origin')
    if (origin !== undefined) {
      const allowed = opts.loopback ? origins.has(origin.toLowerCase()) : sameHost(origin, host)
      if (!allowed) return c.json(errorBody('FORBIDDEN_ORIGIN', 'cross-origin requests are not allowed'), 403)
    }
    await next()
  }
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase()
  } catch {
    return false
  }
}

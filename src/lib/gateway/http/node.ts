/**
 * The Node objects behind a request, when the app runs on a Node HTTP server
 * (@hono/node-server passes them as the env bindings `incoming` / `outgoing`).
 */
import {IncomingMessage, ServerResponse} from 'node:http'
import type {Context} from 'hono'

/** The request's Node response while nothing was sent on it; undefined when the app runs in memory. */
export function nodeResponseOf(c: Context): ServerResponse | undefined {
  const outgoing = (c.env as {outgoing?: unknown} | undefined)?.outgoing
  return outgoing instanceof ServerResponse && !outgoing.headersSent && !outgoing.writableEnded ? outgoing : undefined
}

/**
 * A request header (`name` in lower case), as `c.req.header(name)` gives it: the values of a
 * repeated header joined with ", ". Read from the Node request when there is one: the first
 * `c.req.header()` makes @hono/node-server copy every header into a web Headers object, which
 * costs more than anything else the HTTP layer does for a chat request.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = (c.env as {incoming?: unknown} | undefined)?.incoming
  if (!(incoming instanceof IncomingMessage)) return c.req.header(name)
  const values = incoming.headersDistinct[name]
  if (values === undefined) return undefined
  return values.length === 1 ? values[0] : values.join(', ')
}

/** The request target as sent (path and query, percent-encoding kept). */
export function requestTarget(c: Context): string {
  const incoming = (c.env as {incoming?: unknown} | undefined)?.incoming
  if (incoming instanceof IncomingMessage && incoming.url !== undefined) return incoming.url
  const url = new URL(c.req.url)
  return url.pathname + url.search
}

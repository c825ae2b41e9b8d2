/**
 * The Node objects behind a request, when the app runs on a Node HTTP server
 * (@hono/node-server passes them as the env bindings `incoming` / `outgoing`).
 */
import {ServerResponse} from 'node:http'
import type {Context} from 'hono'

/** The request's Node response while nothing was sent on it; undefined when the app runs in memory. */
export function nodeResponseOf(c: Context): ServerResponse | undefined {
  const outgoing = (c.env as {outgoing?: unknown} | undefined)?.outgoing
  return outgoing instanceof ServerResponse && !outgoing.headersSent && !outgoing.writableEnded ? outgoing : undefined
}

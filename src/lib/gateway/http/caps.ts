/**
 * Resource caps per caller (docs/SECURITY.md, "Caps"): at most MAX_STREAMS_PER_TOKEN open event
 * streams per token on this instance (the session events stream and a streaming message post);
 * one more is a 429 TOO_MANY_STREAMS with Retry-After, and the gateway keeps serving.
 */
import type {ServerResponse} from 'node:http'

import type {MiddlewareHandler} from 'hono'

import {errorBody} from './errors.js'
import type {AppEnv, RouteModule} from './types.js'

export const MAX_STREAMS_PER_TOKEN = 32
/** What a refused stream is told to wait (seconds). */
const STREAM_RETRY_AFTER_S = 5

/** Counts the open streams of each token; a stream is open until its Node response closes. */
function streamCap(max: number = MAX_STREAMS_PER_TOKEN): MiddlewareHandler<AppEnv> {
  const open = new Map<string, number>()
  return async (c, next) => {
    // The events stream is a GET; a message post is a stream only when it asks for one.
    if (c.req.method === 'POST' && !(c.req.header('accept') ?? '').includes('text/event-stream')) return next()
    const id = c.get('auth').token.id
    const count = open.get(id) ?? 0
    if (count >= max) {
      c.header('retry-after', String(STREAM_RETRY_AFTER_S))
      return c.json(errorBody('TOO_MANY_STREAMS', `this token already has ${count} open event streams (at most ${max})`, 'close a stream, or use another token'), 429)
    }
    open.set(id, count + 1)
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      const left = (open.get(id) ?? 1) - 1
      if (left <= 0) open.delete(id)
      else open.set(id, left)
    }
    const outgoing = (c.env as {outgoing?: ServerResponse} | undefined)?.outgoing
    try {
      await next()
    } catch (err) {
      release()
      throw err
    }
    // A stream is written straight to the Node response after the handler returns: its place is
    // given back when that response closes (at once for an answer that is already over).
    if (!outgoing || outgoing.destroyed || outgoing.writableFinished) release()
    else outgoing.once('close', release)
  }
}

/** Mounted before the session routes: the caps of their streams. */
export const capRoutes: RouteModule = {
  name: 'caps',
  register(app) {
    const cap = streamCap()
    app.use('/api/v1/sessions/:key/events', cap)
    app.use('/api/v1/sessions/:key/messages', cap)
  },
}

/**
 * Session and chat routes. All need the `chat` scope;
 * the acting user is the token's user.
 */
import type {Context} from 'hono'
import {z} from 'zod'

import type {MessageAccepted} from '../../contract/api.js'
import type {AuthContext} from '../auth/authenticate.js'
import {HttpError, badRequest} from '../http/errors.js'
import {requireScope} from '../http/auth.js'
import {nodeResponseOf, requestHeader} from '../http/node.js'
import type {AppEnv, RouteModule} from '../http/types.js'
import {parseWith, readJson} from '../http/validate.js'
import type {SessionEvent} from './hub.js'
import {type PostMessageBody, SESSION_KEY_PATTERN, createSessionSchema, postMessageSchema, quickCreateSession, quickPostMessage} from './schema.js'
import {sessionNotAccessible} from './service.js'
import {sseResponse} from './sse.js'

const afterSchema = z.string().regex(/^\d{1,15}$/, 'must be a non-negative integer event id')

function owner(auth: AuthContext) {
  return {orgId: auth.org.id, userId: auth.user.id}
}

/** The key path parameter; a malformed key answers like a missing session (no enumeration). */
function keyParam(c: Context<AppEnv>): string {
  const key = c.req.param('key') ?? ''
  if (!SESSION_KEY_PATTERN.test(key)) throw sessionNotAccessible()
  return key
}

function wantsStream(c: Context<AppEnv>): boolean {
  return (requestHeader(c, 'accept') ?? '').toLowerCase().includes('text/event-stream')
}

/** The body of POST …/messages (see quickPostMessage). */
async function readMessage(c: Context<AppEnv>): Promise<PostMessageBody> {
  const json = await readJson(c)
  return quickPostMessage(json) ?? parseWith(postMessageSchema, json)
}

/** A session event as SSE text (its data is one-line JSON already). */
function frame(ev: SessionEvent): string {
  return `id: ${ev.id}\nevent: ${ev.event}\ndata: ${ev.data}\n\n`
}

/** The session routes; the service is built in services.ts. */
export const sessionRoutes: RouteModule = {
  name: 'sessions',
  register(app, services) {
    const {sessions} = services

    app.post('/api/v1/sessions', requireScope('chat'), async (c) => {
      const json = await readJson(c)
      const body = quickCreateSession(json) ?? parseWith(createSessionSchema, json)
      const {created, session} = await sessions.create(owner(c.get('auth')), body)
      return c.json(session, created ? 201 : 200)
    })

    app.get('/api/v1/sessions/:key', requireScope('chat'), async (c) => c.json(await sessions.get(owner(c.get('auth')), keyParam(c))))

    app.delete('/api/v1/sessions/:key', requireScope('chat'), async (c) => c.json(await sessions.delete(owner(c.get('auth')), keyParam(c))))

    app.post('/api/v1/sessions/:key/messages', requireScope('chat'), async (c) => {
      const key = keyParam(c)
      // The turn's one load and the body's read overlap; a missing session still answers first.
      const [loaded, parsed] = await Promise.allSettled([sessions.prepareTurn(owner(c.get('auth')), key), readMessage(c)])
      if (loaded.status === 'rejected') throw loaded.reason
      if (parsed.status === 'rejected') throw parsed.reason
      const turn = loaded.value
      const body = parsed.value
      if (!wantsStream(c)) {
        const {control} = sessions.startTurn(turn, body.content, {dryRun: body.dryRun, attached: false})
        return c.json<MessageAccepted>({messageId: control.messageId}, 202)
      }
      // The response IS this turn's stream: only its events, closed after its terminal event.
      let pending: SessionEvent[] | undefined = []
      let send: (ev: SessionEvent) => void = (ev) => pending?.push(ev)
      const {control, unsubscribe} = sessions.startTurn(turn, body.content, {
        dryRun: body.dryRun,
        attached: true,
        listener: (ev) => send(ev),
      })
      let untrack = () => {}
      let ended = false
      return sseResponse(
        (sink) => {
          untrack = sessions.trackSink(key, sink)
          send = (ev) => {
            sink.write(frame(ev))
            if (ev.event === 'done' || ev.event === 'error') {
              ended = true
              sink.close()
            }
          }
          const early = pending ?? []
          pending = undefined
          for (const ev of early) send(ev)
        },
        {
          outgoing: nodeResponseOf(c),
          headers: {'x-lobu-message-id': control.messageId},
          onClose: (reason) => {
            unsubscribe()
            untrack()
            if (reason === 'client' && !ended) sessions.posterLeft(key, control)
          },
        },
      )
    })

    app.get('/api/v1/sessions/:key/events', requireScope('chat'), async (c) => {
      const key = keyParam(c)
      const session = await sessions.load(owner(c.get('auth')), key)
      const raw = requestHeader(c, 'last-event-id') ?? c.req.query('after')
      // Without Last-Event-ID / ?after= the stream is live only (from now on).
      let after: number | 'now' = 'now'
      if (raw !== undefined && raw.trim() !== '') {
        const parsed = afterSchema.safeParse(raw.trim())
        if (!parsed.success) throw badRequest('INVALID_REQUEST', `invalid Last-Event-ID / after: ${parsed.error.issues[0]?.message ?? 'bad value'}`)
        after = Number(parsed.data)
      }
      if (sessions.shuttingDown) throw new HttpError(503, 'UNAVAILABLE', 'the gateway is shutting down')
      // HEAD (hono runs GET handlers for it): the GET's status and headers, no stream.
      if (c.req.method === 'HEAD') return c.body(null, 200, {'content-type': 'text/event-stream; charset=utf-8'})
      const hub = sessions.watcherJoined(session.key)
      let unsubscribe: (() => void) | undefined
      let untrack = () => {}
      let closed = false
      return sseResponse(
        (sink) => {
          untrack = sessions.trackSink(key, sink)
          hub
            .follow(after, (ev) => sink.write(frame(ev)))
            .then((unsub) => {
              if (closed) unsub()
              else unsubscribe = unsub
            })
            .catch((err) => {
              services.log('error', `session events replay failed: ${err instanceof Error ? err.message : String(err)}`)
              sink.close()
            })
        },
        {
          outgoing: nodeResponseOf(c),
          onClose: () => {
            closed = true
            unsubscribe?.()
            untrack()
            sessions.watcherLeft(hub)
          },
        },
      )
    })
  },
}

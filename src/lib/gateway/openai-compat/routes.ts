/**
 * The OpenAI-compatible endpoint: existing OpenAI clients and SDKs talk to Lobu agents.
 *
 * - `GET /v1/models`, `GET /v1/models/{id}`: the agents of the caller's org that can answer (a
 *   provider with a key), as models;
 * - `POST /v1/chat/completions` with `model` = an agent id: one turn of that agent (the last user
 *   message is the prompt, earlier messages are context), streamed in the OpenAI chunk format
 *   ending with `data: [DONE]` when `stream: true`, else one `chat.completion` object.
 *
 * Auth: a bearer PAT with the `chat` scope. Every error is in OpenAI's shape (errors of the
 * middleware before these routes are reshaped by ./middleware.ts). Parameters an agent cannot
 * honour (`n` > 1, …: see unsupportedParameter) are refused with a 400 naming them.
 * Nothing is stored: the request carries its own history. The turns run in the completion
 * service (service.ts, built in services.ts); these routes read requests and render answers.
 */
import type {Context} from 'hono'
import type {ContentfulStatusCode} from 'hono/utils/http-status'

import {hasScope} from '../auth/authenticate.js'
import {HttpError} from '../http/errors.js'
import {nodeResponseOf} from '../http/node.js'
import type {AppEnv, RouteModule} from '../http/types.js'
import {describeIssues, findUnstorableText} from '../http/validate.js'
import {newId} from '../store/ids.js'
import {sseResponse, type SseSink} from '../sessions/sse.js'
import {TurnAbort, type TurnOutcome, type TurnSink} from '../sessions/turn.js'
import {chatRequestSchema, finishReasonOf, openaiError, paramOf, statusOfTurnError, toConversation, unsupportedParameter, usageOf, type OpenAIErrorBody} from './format.js'
import {modelOf} from './models.js'

export class OpenAIHttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly body: OpenAIErrorBody,
  ) {
    super(body.error.message)
  }
}

function fail(status: ContentfulStatusCode, message: string, type: string, code: string | null, param: string | null = null): never {
  throw new OpenAIHttpError(status, openaiError(message, type, code, param))
}

function requireChat(c: Context<AppEnv>) {
  const auth = c.get('auth')
  if (!hasScope(auth, 'chat')) fail(403, 'this token lacks the `chat` scope (create one with: lobu token create --scope chat)', 'permission_error', 'insufficient_scope')
  return auth
}

async function readBody(c: Context<AppEnv>) {
  const text = await c.req.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    fail(400, `malformed JSON in the request body: ${err instanceof Error ? err.message : String(err)}`, 'invalid_request_error', 'invalid_json')
  }
  const bad = findUnstorableText(json)
  if (bad) fail(400, `invalid request: ${bad.path.join('.') || 'body'}: ${bad.problem}`, 'invalid_request_error', 'invalid_request', bad.path.join('.') || null)
  const parsed = chatRequestSchema.safeParse(json)
  if (!parsed.success) fail(400, `invalid request: ${describeIssues(parsed.error)}`, 'invalid_request_error', 'invalid_request', paramOf(parsed.error.issues[0]?.path ?? []))
  // The agent's tools run on the gateway; a client cannot bring its own.
  for (const field of ['tools', 'functions'] as const) {
    const value = (parsed.data as Record<string, unknown>)[field]
    if (value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0)) {
      fail(400, `\`${field}\` is not supported: a Lobu agent uses the tools of its own MCP servers (skills.mcp in lobu.toml), which run on the gateway`, 'invalid_request_error', 'unsupported_parameter', field)
    }
  }
  return parsed.data
}

/** Wrap a handler: errors become OpenAI-shaped JSON. */
function openai(handler: (c: Context<AppEnv>) => Promise<Response>) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    try {
      return await handler(c)
    } catch (err) {
      if (err instanceof OpenAIHttpError) return c.json(err.body, err.status)
      if (err instanceof HttpError) return c.json(openaiError(err.message, err.status >= 500 ? 'server_error' : 'invalid_request_error', err.code.toLowerCase()), err.status)
      throw err
    }
  }
}

/** The OpenAI-compatible routes; the completion service is built in services.ts. */
export const openaiCompatRoutes: RouteModule = {
  name: 'openai-compat',
  register(app, services) {
    const {completions} = services

    app.get(
      '/v1/models',
      openai(async (c) => {
        const auth = requireChat(c)
        const agents = await completions.models(auth.org.id, auth.user.id)
        return c.json({object: 'list', data: agents.map((a) => modelOf(a, auth.org.slug))})
      }),
    )

    app.get(
      '/v1/models/:id',
      openai(async (c) => {
        const auth = requireChat(c)
        const id = c.req.param('id') ?? ''
        const agent = await completions.model(auth.org.id, auth.user.id, id)
        if (!agent) fail(404, `The model \`${id}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found', 'model')
        return c.json(modelOf(agent, auth.org.slug))
      }),
    )

    app.post(
      '/v1/chat/completions',
      openai(async (c) => {
        const auth = requireChat(c)
        const body = await readBody(c)
        const unsupported = unsupportedParameter(body)
        if (unsupported) fail(400, unsupported.message, 'invalid_request_error', unsupported.code, unsupported.param)
        const agent = await completions.agent(auth.org.id, body.model)
        if (!agent) fail(404, `The model \`${body.model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found', 'model')
        const conversation = toConversation(body.messages)
        if (!conversation) fail(400, 'messages must contain a user message with text (the last one is the prompt)', 'invalid_request_error', 'invalid_request', 'messages')

        const id = `chatcmpl-${newId('msg').slice(4)}`
        const created = Math.floor(Date.now() / 1000)
        const model = agent.agentId

        // Chunks are buffered until the response exists.
        let sink: SseSink | undefined
        const buffered: string[] = []
        const emit = (payload: unknown) => {
          const line = `data: ${JSON.stringify(payload)}\n\n`
          if (sink) sink.write(line)
          else buffered.push(line)
        }
        const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
          id,
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [{index: 0, delta, logprobs: null, finish_reason: finish}],
        })
        const stream = body.stream === true
        let started!: () => void
        const startedP = new Promise<'started'>((resolve) => (started = () => resolve('started')))
        const turnSink: TurnSink = {
          turn: () => {
            started()
            if (stream) emit(chunk({role: 'assistant', content: ''}))
          },
          delta: (text) => {
            if (stream) emit(chunk({content: text}))
          },
          // The agent's tool calls run on the gateway (the client is not asked to run them).
          toolCall: () => {},
        }
        const running = completions.start({agent, userId: auth.user.id, conversation}, turnSink)
        const outcomeP: Promise<TurnOutcome> = running.outcome
        const clientGone = () => running.abort(new TurnAbort('ABORTED', 'the client disconnected'))
        c.req.raw.signal.addEventListener('abort', clientGone, {once: true})
        void outcomeP.finally(() => c.req.raw.signal.removeEventListener('abort', clientGone))

        const errorBody = (outcome: Extract<TurnOutcome, {kind: 'error'}>) => {
          const {type} = statusOfTurnError(outcome.error.code, outcome.error.status)
          const hint = outcome.error.hint ? ` (${outcome.error.hint})` : ''
          return openaiError(`${outcome.error.message}${hint}`, type, outcome.error.code.toLowerCase())
        }

        if (!stream) {
          const outcome = await outcomeP
          if (outcome.kind === 'error') return c.json(errorBody(outcome), statusOfTurnError(outcome.error.code, outcome.error.status).status as ContentfulStatusCode)
          return c.json({
            id,
            object: 'chat.completion',
            created,
            model,
            choices: [
              {
                index: 0,
                message: {role: 'assistant', content: outcome.text, refusal: null},
                logprobs: null,
                finish_reason: finishReasonOf(outcome.finishReason),
              },
            ],
            usage: usageOf(outcome.usage),
          })
        }

        // Errors before the turn started (no model, unknown agent) are a plain HTTP error.
        const first = await Promise.race([startedP, outcomeP.then(() => 'ended' as const)])
        if (first === 'ended') {
          const outcome = await outcomeP
          if (outcome.kind === 'error') return c.json(errorBody(outcome), statusOfTurnError(outcome.error.code, outcome.error.status).status as ContentfulStatusCode)
        }
        const includeUsage = body.stream_options?.include_usage === true
        return sseResponse(
          (s) => {
            sink = s
            for (const line of buffered.splice(0)) s.write(line)
            void outcomeP.then((outcome) => {
              if (outcome.kind === 'done') {
                emit(chunk({}, finishReasonOf(outcome.finishReason)))
                if (includeUsage) emit({id, object: 'chat.completion.chunk', created, model, choices: [], usage: usageOf(outcome.usage)})
                s.write('data: [DONE]\n\n')
              } else {
                emit(errorBody(outcome))
              }
              s.close()
            })
          },
          {
            outgoing: nodeResponseOf(c),
            onClose: (reason) => {
              if (reason === 'client') clientGone()
            },
          },
        )
      }),
    )
  },
}

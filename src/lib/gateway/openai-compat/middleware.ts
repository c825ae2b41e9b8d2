/**
 * Every error under `/v1` in OpenAI's shape (`{error: {message, type, param, code}}`), whoever
 * answered it: the host and origin guards, the size limit, authentication, an unknown route, an
 * unexpected failure. OpenAI clients and SDKs read `error.message` from that shape only.
 * Registered on `/v1/*` before every other middleware; success responses and streams pass
 * untouched.
 */
import type {MiddlewareHandler} from 'hono'

import type {AppEnv} from '../http/types.js'
import {isOpenAIErrorBody, toOpenAIError} from './format.js'

export function openaiErrorShape(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next()
    const res = c.res
    if (res.status < 400 || !(res.headers.get('content-type') ?? '').includes('application/json')) return
    let body: unknown
    try {
      body = await res.clone().json()
    } catch {
      body = undefined
    }
    if (isOpenAIErrorBody(body)) return
    const headers = new Headers(res.headers)
    headers.delete('content-length')
    c.res = undefined
    c.res = new Response(JSON.stringify(toOpenAIError(res.status, body)), {status: res.status, headers})
  }
}

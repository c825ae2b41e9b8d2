/**
 * Request validation: JSON parsing that names the problem (400 INVALID_JSON) and zod parsing
 * that names the field paths (400 INVALID_REQUEST).
 */
import type {IncomingMessage} from 'node:http'

import type {Context} from 'hono'
import type {z} from 'zod'

import {badRequest} from './errors.js'
import {requestHeader} from './node.js'

/** `a.b.0.c: message; …` — one entry per zod issue, paths first. */
export function describeIssues(error: z.ZodError, root = 'body'): string {
  const parts = error.issues.slice(0, 10).map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : root}: ${issue.message}`)
  if (error.issues.length > 10) parts.push(`… and ${error.issues.length - 10} more`)
  return parts.join('; ')
}

/** Parse a value with a schema or throw 400 INVALID_REQUEST naming the field paths. */
export function parseWith<S extends z.ZodTypeAny>(schema: S, value: unknown, root = 'body'): z.output<S> {
  const result = schema.safeParse(value)
  if (!result.success) throw badRequest('INVALID_REQUEST', `invalid request: ${describeIssues(result.error, root)}`)
  return result.data
}

const utf8 = new TextDecoder('utf-8')

/**
 * The request body as text. Under @hono/node-server a body of declared length is read straight
 * from the Node request (the size limit already judged its Content-Length), without building a
 * web Request and stream around it; it is then cached where hono's `c.req.text()` finds it.
 * Anything else goes through `c.req.text()`.
 */
export function bodyText(c: Context): Promise<string> {
  const req = c.req
  const incoming = (c.env as {incoming?: Partial<IncomingMessage>} | undefined)?.incoming
  const direct =
    incoming !== undefined &&
    typeof incoming.on === 'function' &&
    incoming.readableDidRead === false &&
    Object.keys(req.bodyCache).length === 0 &&
    requestHeader(c, 'content-length') !== undefined &&
    requestHeader(c, 'transfer-encoding') === undefined
  if (!direct) return req.text()
  const text = readNodeBody(incoming as IncomingMessage)
  // hono keeps the promise of each body read there (its type says otherwise).
  ;(req.bodyCache as Record<string, Promise<unknown>>).text = text
  return text
}

function readNodeBody(incoming: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.once('end', () => resolve(utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))))
    incoming.once('error', reject)
    incoming.once('aborted', () => reject(new Error('the request was aborted')))
  })
}

/** Read the request body as JSON; 400 INVALID_JSON when it is empty or malformed. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await bodyText(c)
  if (text.trim() === '') throw badRequest('INVALID_JSON', 'the request body is empty: expected a JSON object', 'send a JSON body with Content-Type: application/json')
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err)
    throw badRequest('INVALID_JSON', `malformed JSON in the request body: ${detail}`, 'send a JSON body with Content-Type: application/json')
  }
}

/** Read and validate a JSON body. */
export async function jsonBody<S extends z.ZodTypeAny>(c: Context, schema: S): Promise<z.output<S>> {
  return parseWith(schema, await readJson(c))
}

/** Validate a path parameter. */
export function param<S extends z.ZodTypeAny>(c: Context, name: string, schema: S): z.output<S> {
  return parseWith(schema, c.req.param(name), name)
}

/**
 * Request validation: JSON parsing that names the problem (400 INVALID_JSON), text that cannot
 * be stored refused where it enters (400 INVALID_REQUEST naming the field: U+0000 and lone
 * surrogates are valid JSON but PostgreSQL text refuses them, which used to surface as a 500 or
 * as a turn lost after its `done`), and zod parsing that names the field paths (400
 * INVALID_REQUEST).
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

/** U+0000, or a surrogate code unit that is not half of a pair. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why a string cannot be stored as text, or undefined when it can. */
export function unstorableText(value: string): string | undefined {
  const m = UNSTORABLE.exec(value)
  if (!m) return undefined
  return m[0] === '\u0000' ? 'contains U+0000 (NUL), which cannot be stored' : `contains a lone surrogate (U+${m[0].charCodeAt(0).toString(16).toUpperCase()}), which is not valid Unicode text`
}

/**
 * The first string of a parsed JSON value (object keys included) that cannot be stored as text:
 * its path (`messages.0.content`) and the problem. Iterative, so deep nesting cannot overflow.
 */
export function findUnstorableText(value: unknown, root: string[] = []): {path: string[]; problem: string} | undefined {
  const stack: Array<{value: unknown; path: string[]}> = [{value, path: root}]
  while (stack.length > 0) {
    const {value: v, path} = stack.pop()!
    if (typeof v === 'string') {
      const problem = unstorableText(v)
      if (problem) return {path, problem}
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({value: v[i], path: [...path, String(i)]})
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v)
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i]!
        const problem = unstorableText(k)
        if (problem) return {path: [...path, k], problem: `has a key that ${problem}`}
        stack.push({value: child, path: [...path, k]})
      }
    }
  }
  return undefined
}

/**
 * JSON text can only yield such strings through `\u` escapes (a raw control character is
 * malformed JSON, and UTF-8 decoding never yields a lone surrogate): without one, nothing to walk.
 */
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/

/** Parse JSON text; 400 INVALID_JSON when malformed, 400 INVALID_REQUEST naming the field when a string cannot be stored. */
export function parseJsonText(text: string, root = 'body'): unknown {
  let value: unknown
  try {
    value = JSON.parse(text) as unknown
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err)
    throw badRequest('INVALID_JSON', `malformed JSON in the request body: ${detail}`, 'send a JSON body with Content-Type: application/json')
  }
  if (SUSPECT_ESCAPE.test(text)) {
    const bad = findUnstorableText(value)
    if (bad) throw badRequest('INVALID_REQUEST', `invalid request: ${bad.path.length > 0 ? bad.path.join('.') : root}: ${bad.problem}`, 'remove NUL characters and unpaired surrogates from the text')
  }
  return value
}

/** Read the request body as JSON; 400 INVALID_JSON when it is empty or malformed (see parseJsonText). */
export async function readJson(c: Context): Promise<unknown> {
  const text = await bodyText(c)
  if (text.trim() === '') throw badRequest('INVALID_JSON', 'the request body is empty: expected a JSON object', 'send a JSON body with Content-Type: application/json')
  return parseJsonText(text)
}

/** Visible ASCII only (no spaces, no controls, nothing above U+007E): what a key sent in an HTTP header can hold. */
export const HEADER_SAFE = /^[\x21-\x7E]+$/
export const HEADER_SAFE_MESSAGE = 'must be printable ASCII without spaces (it is sent in an HTTP header)'

/** Read and validate a JSON body. */
export async function jsonBody<S extends z.ZodTypeAny>(c: Context, schema: S): Promise<z.output<S>> {
  return parseWith(schema, await readJson(c))
}

/** Validate a path parameter. */
export function param<S extends z.ZodTypeAny>(c: Context, name: string, schema: S): z.output<S> {
  return parseWith(schema, c.req.param(name), name)
}

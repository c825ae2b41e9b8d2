/**
 * The messages between the gateway (host) and the worker thread that owns the PGlite instance
 * (pglite-worker.ts), and how errors cross that boundary. Node built-ins only: the worker and
 * the prewarm path load this without the rest of the gateway.
 */

/** PGlite's files live in this subdirectory of the data dir (beside gateway.lock and encryption.key). */
export const PGDATA_DIR = 'pgdata'

/**
 * Server settings for the embedded database. PostgreSQL's default shared_buffers (128 MB)
 * is touched at startup and stays resident: 16 MB is plenty for one developer's gateway and
 * roughly halves the process's RSS (≈320 → ≈170 MB).
 */
export const START_SETTINGS: readonly string[] = ['-c', 'shared_buffers=16MB']

export type PgliteOrigin = 'existing' | 'template' | 'initdb'

/** Host → worker. Every request carries an id; the worker answers each one, in order. */
export type HostRequest =
  | {id: number; op: 'open'; dataDir: string; templatePath: string | null}
  | {id: number; op: 'query'; text: string; params?: unknown[]}
  | {id: number; op: 'exec'; text: string}
  /** COMMIT, failing with 25P02 when PostgreSQL rolled the transaction back instead. */
  | {id: number; op: 'commit'}
  | {id: number; op: 'close'}

/** Worker → host. `value`: the rows of a query, `{origin}` for open, undefined otherwise. */
export type WorkerReply = {id: number; value?: unknown} | {id: number; error: WireError}

/** Where opening failed: the data dir holds something else, or PostgreSQL refused to start on it. */
export type OpenFailure = 'invalid' | 'start'

/** An error as plain data: structured clone would keep only name, message and stack. */
export interface WireError {
  name: string
  message: string
  stack?: string
  fields: Record<string, unknown>
  openFailure?: OpenFailure
}

/**
 * The fields PostgreSQL errors carry (pg-protocol's DatabaseError, as PGlite throws it, plus
 * the query and params PGlite attaches). `code` is the SQLSTATE that sqlState() reads.
 */
const ERROR_FIELDS = [
  'code',
  'severity',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
  'length',
  'query',
  'params',
] as const

export function errorToWire(err: unknown, openFailure?: OpenFailure): WireError {
  if (!(err instanceof Error)) return {name: 'Error', message: String(err), fields: {}, openFailure}
  const fields: Record<string, unknown> = {}
  const source = err as unknown as Record<string, unknown>
  for (const key of ERROR_FIELDS) {
    const value = source[key]
    if (value !== undefined && typeof value !== 'function') fields[key] = value
  }
  return {name: err.name, message: err.message, stack: err.stack, fields, openFailure}
}

/** The host-side error: an Error with the same name, message and fields as in the worker. */
export function errorFromWire(wire: WireError): Error {
  const err = new Error(wire.message)
  err.name = wire.name
  if (wire.stack) err.stack = wire.stack
  Object.assign(err, wire.fields)
  return err
}

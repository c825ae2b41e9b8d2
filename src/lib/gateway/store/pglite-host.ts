/**
 * The host side of the database worker (pglite-worker.ts): a Driver whose queries run in the
 * worker thread, so PGlite's WebAssembly never blocks the gateway's event loop.
 *
 * Requests are posted as soon as they are made (pipelined) and answered in order. PGlite is a
 * single connection, so a transaction is exclusive: while one runs, queries from outside it and
 * other transactions wait here, in the order they were made, until it ends. The worker is
 * referenced (keeps the process alive) only while a request is outstanding.
 */
import type {Worker} from 'node:worker_threads'

import type {Driver, TxSql} from './driver.js'
import {type HostRequest, type PgliteOrigin, type WireError, type WorkerReply, errorFromWire} from './pglite-protocol.js'

/** A request before it gets its id. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never
type Request = WithoutId<HostRequest>

interface Pending {
  resolve(value: unknown): void
  reject(err: Error): void
}

/** Thrown by the driver once it is closed. */
const closedError = () => new Error('the database is closed')

/** One worker thread and the requests outstanding in it. */
export class PgliteWorkerConnection {
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  /** Set once the worker can no longer answer: every later request fails with it. */
  private failure: Error | undefined
  private closing = false

  constructor(readonly worker: Worker) {
    worker.unref()
    worker.on('message', (reply: WorkerReply) => this.onReply(reply))
    worker.on('error', (err) => this.fail(new Error(`the database worker crashed: ${err.message}`, {cause: err})))
    worker.on('messageerror', (err) => this.fail(new Error(`the database worker sent an unreadable message: ${err.message}`, {cause: err})))
    worker.once('exit', (code) => this.fail(this.closing ? closedError() : new Error(`the database worker exited unexpectedly (exit code ${code})`)))
  }

  /** Post a request; resolves with its value, rejects with the (reconstructed) error. */
  request(req: Request): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      try {
        this.worker.postMessage({...req, id})
      } catch (err) {
        // A parameter structured clone cannot copy (a function, a symbol…).
        reject(err instanceof Error ? err : new Error(String(err)))
        return
      }
      if (this.pending.size === 0) this.worker.ref()
      this.pending.set(id, {resolve, reject})
    })
  }

  /** Close PGlite in the worker (after everything posted before), then end the thread. */
  async close(): Promise<void> {
    if (this.closing) return
    try {
      await this.request({op: 'close'})
    } finally {
      this.closing = true
      this.failure ??= closedError()
      await this.worker.terminate()
    }
  }

  /** End the thread at once (a failed open). */
  async terminate(): Promise<void> {
    this.closing = true
    await this.worker.terminate()
  }

  private onReply(reply: WorkerReply): void {
    const waiting = this.pending.get(reply.id)
    if (!waiting) return
    this.pending.delete(reply.id)
    if (this.pending.size === 0) this.worker.unref()
    if ('error' in reply) waiting.reject(errorFromWire(reply.error))
    else waiting.resolve(reply.value)
  }

  private fail(err: Error): void {
    this.failure ??= err
    const waiting = [...this.pending.values()]
    this.pending.clear()
    this.worker.unref()
    for (const w of waiting) w.reject(this.failure)
  }
}

/** Hand the worker its data dir; resolves once PostgreSQL runs on it. */
export async function openInWorker(
  connection: PgliteWorkerConnection,
  dataDir: string,
  templatePath: string | null,
): Promise<{origin: PgliteOrigin}> {
  return (await connection.request({op: 'open', dataDir, templatePath})) as {origin: PgliteOrigin}
}

/** Which stage an open failed at (see OpenFailure), from an error openInWorker() rejected with. */
export function openFailureOf(err: unknown): WireError['openFailure'] {
  return (err as {openFailure?: WireError['openFailure']} | null)?.openFailure
}

/** The Driver over an open worker connection. */
export function workerDriver(connection: PgliteWorkerConnection, description: string): Driver {
  /** Work waiting for the running transaction to end, in the order it was asked for. */
  const held: Array<() => void> = []
  let exclusive = false
  let closed = false

  const schedule = (task: () => void) => {
    if (!exclusive && held.length === 0) task()
    else held.push(task)
  }
  const release = () => {
    exclusive = false
    while (!exclusive && held.length > 0) held.shift()!()
  }
  /** Run `request` when no transaction is running. */
  const whenFree = <T>(request: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(closedError())
    return new Promise<T>((resolve, reject) => schedule(() => request().then(resolve, reject)))
  }

  const query = <R>(text: string, params?: unknown[]) =>
    connection.request(params === undefined ? {op: 'query', text} : {op: 'query', text, params}) as Promise<R[]>
  const exec = async (text: string) => {
    await connection.request({op: 'exec', text})
  }

  async function runTransaction<T>(fn: (sql: TxSql) => Promise<T>): Promise<T> {
    await exec('BEGIN')
    let ended = false
    const ensureOpen = () => {
      if (ended) throw new Error('Transaction is closed')
    }
    const tx: TxSql = {
      async query<R>(text: string, params?: unknown[]) {
        ensureOpen()
        return query<R>(text, params)
      },
      async exec(script: string) {
        ensureOpen()
        await exec(script)
      },
    }
    try {
      const result = await fn(tx)
      ended = true
      await connection.request({op: 'commit'})
      return result
    } catch (err) {
      if (!ended) {
        ended = true
        // A failing ROLLBACK means the worker is gone: the later requests report that.
        await exec('ROLLBACK').catch(() => {})
      }
      throw err
    }
  }

  return {
    kind: 'pglite',
    description,
    query<R>(text: string, params?: unknown[]) {
      if (!exclusive && held.length === 0 && !closed) return query<R>(text, params)
      return whenFree(() => query<R>(text, params))
    },
    exec(script: string) {
      return whenFree(() => exec(script))
    },
    transaction<T>(fn: (sql: TxSql) => Promise<T>): Promise<T> {
      if (closed) return Promise.reject(closedError())
      return new Promise<T>((resolve, reject) => {
        schedule(() => {
          exclusive = true
          runTransaction(fn).then(resolve, reject).finally(release)
        })
      })
    },
    close() {
      if (closed) return Promise.resolve()
      closed = true
      return new Promise<void>((resolve, reject) => schedule(() => connection.close().then(resolve, reject)))
    },
  }
}

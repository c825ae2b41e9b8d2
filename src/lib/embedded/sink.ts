import {randomBytes} from 'node:crypto'
import {open, rename, unlink, type FileHandle} from 'node:fs/promises'
import path from 'node:path'

/** Where a long text output goes, chunk by chunk. */
export interface Sink {
  write(chunk: string): Promise<void>
  /** All written: flush (and put the file in place). */
  finish(): Promise<void>
  /** Failed: leave no partial file behind. */
  abort(): Promise<void>
}

/** stdout with backpressure. */
export function stdoutSink(out: NodeJS.WritableStream = process.stdout): Sink {
  return {
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        out.write(chunk, (err) => (err ? reject(err) : resolve()))
      }),
    finish: async () => {},
    abort: async () => {},
  }
}

/** A file written beside its target, then renamed over it: the target is whole or untouched. */
export async function fileSink(target: string): Promise<Sink> {
  const file = path.resolve(target)
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`)
  const handle: FileHandle = await open(tmp, 'wx', 0o600)
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await handle.close()
  }
  return {
    write: async (chunk) => {
      await handle.write(chunk)
    },
    finish: async () => {
      await handle.sync()
      await close()
      await rename(tmp, file)
    },
    abort: async () => {
      await close().catch(() => {})
      await unlink(tmp).catch(() => {})
    },
  }
}

/**
 * Whether stdin carries data for this command, decided once for every command that reads it
 * (the `org create` password, `oauth login --with-token`, `oauth connect --with-key`, the
 * `chat` prompt): a pipe, a file, or a socket (what Node gives a child spawned with `input`,
 * e.g. execa or `child_process.spawnSync(…, {input})`) — never a terminal, and not a character
 * device such as /dev/null (stdin closed or ignored).
 */
import {fstatSync} from 'node:fs'
import {isatty} from 'node:tty'

export type StdinKind = 'tty' | 'pipe' | 'file' | 'socket' | 'none'

/** What fd 0 is. A closed or unreadable stdin is `none`. */
export function stdinKind(fd = 0): StdinKind {
  try {
    if (isatty(fd)) return 'tty'
    const stat = fstatSync(fd)
    if (stat.isFIFO()) return 'pipe'
    if (stat.isFile()) return 'file'
    if (stat.isSocket()) return 'socket'
    return 'none'
  } catch {
    return 'none'
  }
}

/** True when stdin is a pipe, a file or a socket: something sent data for this command. */
export function stdinHasData(fd = 0): boolean {
  const kind = stdinKind(fd)
  return kind === 'pipe' || kind === 'file' || kind === 'socket'
}

/** Read a stream to its end as UTF-8 text (process.stdin by default; works for every kind above). */
export async function readAllStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

import {closeSync, createReadStream, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync, writeSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import path from 'node:path'
import {pipeline} from 'node:stream/promises'
import {type ZlibOptions, createGunzip} from 'node:zlib'

/**
 * A small ustar reader and writer for the prebuilt database template: regular files and
 * directories, ustar name prefixes, GNU long names and pax `path` records (as PGlite's
 * `dumpDataDir()` writes them). The template is restored straight onto disk, which is several
 * times faster than handing the tarball to PGlite (`loadDataDir`) and lets us restore into a
 * temporary directory that is renamed into place only once complete.
 */
export interface TarEntry {
  name: string
  type: 'file' | 'directory'
  data: Buffer
}

export class TarFormatError extends Error {}

const BLOCK = 512

function cString(buf: Buffer, start: number, length: number): string {
  const slice = buf.subarray(start, start + length)
  const end = slice.indexOf(0)
  return slice.subarray(0, end === -1 ? slice.length : end).toString('utf8')
}

function octal(buf: Buffer, start: number, length: number): number {
  const text = cString(buf, start, length).trim()
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad octal field "${text}"`)
  return Number.parseInt(text, 8)
}

function checksumOk(header: Buffer): boolean {
  const expected = octal(header, 148, 8)
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!
  return sum === expected
}

function paxPath(data: Buffer): string | undefined {
  // Records: "<len> <key>=<value>\n"
  let offset = 0
  let found: string | undefined
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset)
    if (space === -1) break
    const len = Number.parseInt(data.subarray(offset, space).toString('ascii'), 10)
    if (!Number.isFinite(len) || len <= 0) break
    const record = data.subarray(space + 1, offset + len - 1).toString('utf8')
    const eq = record.indexOf('=')
    if (eq !== -1 && record.slice(0, eq) === 'path') found = record.slice(eq + 1)
    offset += len
  }
  return found
}

/**
 * An incremental tar reader: push() the archive in pieces as they arrive (a gunzip stream),
 * each complete entry goes to `onEntry` at once. Entry data are views of the pushed buffers
 * when an entry lies within one of them.
 */
export class TarParser {
  private chunks: Buffer[] = []
  private buffered = 0
  private consumed = 0
  /** The entry whose data is awaited. */
  private pending: {flag: string; name: string; size: number; padding: number} | undefined
  /** Padding of the last entry still to skip. */
  private skip = 0
  private nextName: string | undefined
  private ended = false

  constructor(private readonly onEntry: (entry: TarEntry) => void) {}

  push(chunk: Buffer): void {
    if (this.ended || chunk.length === 0) return
    this.chunks.push(chunk)
    this.buffered += chunk.length
    this.drain()
  }

  /** The archive is complete: fails if it stops in the middle of an entry. */
  end(): void {
    if (this.pending) throw new TarFormatError('archive truncated')
    this.ended = true
  }

  private drain(): void {
    while (!this.ended) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buffered)
        this.take(n)
        this.skip -= n
        if (this.skip > 0) return
      }
      if (!this.pending) {
        if (this.buffered < BLOCK) return
        const at = this.consumed
        const header = this.take(BLOCK)
        if (header.every((b) => b === 0)) {
          this.ended = true // end-of-archive marker: the rest is padding
          return
        }
        if (!checksumOk(header)) throw new TarFormatError(`bad header checksum at byte ${at}`)
        const size = octal(header, 124, 12)
        const magic = cString(header, 257, 6)
        const prefix = magic.startsWith('ustar') ? cString(header, 345, 155) : ''
        const base = cString(header, 0, 100)
        this.pending = {
          flag: String.fromCharCode(header[156]!),
          name: this.nextName ?? (prefix ? `${prefix}/${base}` : base),
          size,
          padding: Math.ceil(size / BLOCK) * BLOCK - size,
        }
      }
      const entry = this.pending
      if (this.buffered < entry.size) return
      const data = this.take(entry.size)
      this.pending = undefined
      this.skip = entry.padding
      this.entry(entry.flag, entry.name, data)
    }
  }

  private entry(flag: string, name: string, data: Buffer): void {
    switch (flag) {
      case 'L': // GNU long name of the next entry
        this.nextName = cString(data, 0, data.length)
        return
      case 'x': // pax header of the next entry
        this.nextName = paxPath(data)
        return
      case 'g': // pax global header
        return
      case '0':
      case '\0':
      case '7':
        this.nextName = undefined
        this.onEntry({name, type: 'file', data})
        return
      case '5':
        this.nextName = undefined
        this.onEntry({name, type: 'directory', data})
        return
      default:
        throw new TarFormatError(`unsupported tar entry type "${flag}" for ${name}`)
    }
  }

  /** The next n buffered bytes (a view when they lie in one chunk). */
  private take(n: number): Buffer {
    this.buffered -= n
    this.consumed += n
    const first = this.chunks[0]
    if (n === 0) return Buffer.alloc(0)
    if (first!.length >= n) {
      if (first!.length === n) this.chunks.shift()
      else this.chunks[0] = first!.subarray(n)
      return first!.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.chunks[0]!
      const k = Math.min(chunk.length, n - filled)
      chunk.copy(out, filled, 0, k)
      filled += k
      if (k === chunk.length) this.chunks.shift()
      else this.chunks[0] = chunk.subarray(k)
    }
    return out
  }
}

/** The entries of a whole archive. */
export function readTar(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = []
  const parser = new TarParser((entry) => entries.push(entry))
  parser.push(archive)
  parser.end()
  return entries
}

const PAGE = 8192
const ZERO_PAGE = Buffer.alloc(PAGE)

/**
 * Write a large file skipping its all-zero pages (a sparse file where the filesystem allows):
 * a fresh database is mostly zeros, above all its 16 MB WAL segment. Reads are identical.
 */
function writeSparse(target: string, data: Buffer): void {
  const fd = openSync(target, 'w', 0o600)
  try {
    let runStart = -1
    for (let offset = 0; offset <= data.length; offset += PAGE) {
      const page = data.subarray(offset, offset + PAGE)
      const zero = page.length === 0 || (page.length === PAGE && page.equals(ZERO_PAGE))
      if (!zero && runStart === -1) runStart = offset
      if ((zero || offset + PAGE >= data.length) && runStart !== -1) {
        const end = zero ? offset : data.length
        writeSync(fd, data, runStart, end - runStart, runStart)
        runStart = -1
      }
    }
    ftruncateSync(fd, data.length)
  } finally {
    closeSync(fd)
  }
}

/** Writes entries under `dir` (created if needed). Files 0600, directories 0700. Refuses paths escaping dir. */
class Extractor {
  private readonly root: string
  private readonly made: Set<string>
  files = 0

  constructor(dir: string) {
    this.root = path.resolve(dir)
    mkdirSync(this.root, {recursive: true, mode: 0o700})
    this.made = new Set([this.root])
  }

  write(entry: TarEntry): void {
    const rel = entry.name.replace(/^(\.?\/)+/, '')
    if (rel === '' || rel === '.') return
    const target = path.resolve(this.root, rel)
    if (target !== this.root && !target.startsWith(this.root + path.sep)) {
      throw new TarFormatError(`entry escapes the target directory: ${entry.name}`)
    }
    if (entry.type === 'directory') {
      this.ensureDir(target)
    } else {
      this.ensureDir(path.dirname(target))
      if (entry.data.length >= 16 * PAGE) writeSparse(target, entry.data)
      else writeFileSync(target, entry.data, {mode: 0o600})
      this.files++
    }
  }

  private ensureDir(dir: string): void {
    if (this.made.has(dir)) return
    mkdirSync(dir, {recursive: true, mode: 0o700})
    this.made.add(dir)
  }
}

/** Extract into `dir` (created if needed); returns the number of files. */
export function extractTar(archive: Buffer, dir: string): number {
  const extractor = new Extractor(dir)
  const parser = new TarParser((entry) => extractor.write(entry))
  parser.push(archive)
  parser.end()
  return extractor.files
}

/**
 * Unpack a .tar.gz (the database template) into `dir`; on failure nothing is left behind.
 * Files are written as the archive is decompressed: zlib works on the thread pool while this
 * thread creates files, which is most of the cost.
 */
export async function restoreTemplate(archivePath: string, dir: string): Promise<void> {
  try {
    const extractor = new Extractor(dir)
    const parser = new TarParser((entry) => extractor.write(entry))
    // Big chunks: the default 16 KB would bounce 30 MB through the thread pool in 2,000 steps.
    // A deep read-ahead lets zlib run ahead of the file writes (stream options, untyped here).
    const gunzip = createGunzip({chunkSize: 1 << 20, readableHighWaterMark: 8 << 20} as ZlibOptions)
    await pipeline(createReadStream(archivePath, {highWaterMark: 1 << 20}), gunzip, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) parser.push(chunk)
    })
    parser.end()
  } catch (err) {
    await rm(dir, {recursive: true, force: true})
    throw err
  }
}

function ustarHeader(name: string, type: '0' | '5', size: number, mode: number): Buffer {
  const header = Buffer.alloc(BLOCK)
  let prefix = ''
  let base = name
  if (Buffer.byteLength(base) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2)
    prefix = name.slice(0, cut)
    base = name.slice(cut + 1)
    if (cut <= 0 || Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155) throw new TarFormatError(`name too long for ustar: ${name}`)
  }
  header.write(base, 0, 100, 'utf8')
  header.write(`${mode.toString(8).padStart(7, '0')}\0`, 100)
  header.write('0000000\0', 108) // uid
  header.write('0000000\0', 116) // gid
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124)
  header.write('00000000000\0', 136) // mtime: fixed, so a build is reproducible
  header.write(type, 156)
  header.write('ustar\0', 257)
  header.write('00', 263)
  header.write(prefix, 345, 155, 'utf8')
  header.fill(0x20, 148, 156)
  let sum = 0
  for (const b of header) sum += b
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148)
  return header
}

/**
 * A ustar archive of the directory tree at `root` (regular files and directories, sorted
 * names relative to root), leaving out what `skip` rejects (given the relative path).
 */
export function packDirectory(root: string, skip: (relative: string, isDirectory: boolean) => boolean = () => false): Buffer {
  const parts: Buffer[] = []
  const walk = (rel: string) => {
    const entries = readdirSync(path.join(root, rel), {withFileTypes: true}).sort((a, b) => (a.name < b.name ? -1 : 1))
    for (const entry of entries) {
      const child = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isDirectory()) {
        if (skip(child, true)) continue
        parts.push(ustarHeader(`${child}/`, '5', 0, 0o700))
        walk(child)
      } else if (entry.isFile()) {
        if (skip(child, false)) continue
        const data = readFileSync(path.join(root, child))
        parts.push(ustarHeader(child, '0', data.length, 0o600), data)
        const pad = (BLOCK - (data.length % BLOCK)) % BLOCK
        if (pad) parts.push(Buffer.alloc(pad))
      }
    }
  }
  walk('')
  parts.push(Buffer.alloc(2 * BLOCK))
  return Buffer.concat(parts)
}

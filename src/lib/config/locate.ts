/**
 * Maps key paths of a TOML document to positions in its source. smol-toml gives values but no
 * positions, so this is a small scanner over the (already parsed, hence valid) source that records,
 * for every key path, where its key is written and where its value starts:
 *
 * - `[a.b]` and `[[a.b]]` headers (array-of-tables elements get their index: `a.b[2]`), including
 *   nested arrays of tables (`[[a]]` … `[[a.b]]` belongs to the latest `a` element);
 * - dotted keys (`x.y = 1` records `x` and `x.y`, each at its own segment);
 * - inline tables and arrays, across lines, with comments;
 * - bare, "basic" and 'literal' quoted keys; all string forms, including multi-line ones.
 *
 * Tables opened by a header point at the header's `[`; keys at their first character; values at
 * their first character. Anything the scanner does not understand stops it quietly: a position is
 * a help for the reader, never a reason to fail.
 */
export type PathSegment = string | number

export interface Position {
  line: number
  col: number
}

export type ValueKind = 'string' | 'integer' | 'float' | 'boolean' | 'datetime' | 'array' | 'table'

export interface Located {
  /** Where the key is written (for a table opened by a header: the header). */
  key: Position
  /** Where the value starts (absent for tables opened by a header). */
  value?: Position
  kind?: ValueKind
}

interface Entry extends Located {
  /** Defined by its own header or key, not merely implied by a longer one. */
  explicit: boolean
}

/** The map key of a path: each segment tagged as a key or an index (`a.0` ≠ `a[0]`). */
const id = (path: readonly PathSegment[]): string => {
  let key = ''
  for (const segment of path) key += (typeof segment === 'number' ? '\u0001' : '\u0000') + segment
  return key
}

export class SourceLocator {
  private readonly entries = new Map<string, Entry>()
  private readonly lineStarts: number[] = [0]

  constructor(readonly source: string) {
    for (let nl = source.indexOf('\n'); nl !== -1; nl = source.indexOf('\n', nl + 1)) this.lineStarts.push(nl + 1)
    try {
      new Scanner(source, this).run()
    } catch {
      // Keep whatever was recorded before the scanner got lost.
    }
  }

  /** 1-based line and column of a character offset. */
  position(offset: number): Position {
    let lo = 0
    let hi = this.lineStarts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.lineStarts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return {line: lo + 1, col: offset - this.lineStarts[lo]! + 1}
  }

  /** @internal used by the scanner */
  record(path: readonly PathSegment[], key: Position, explicit: boolean, kind?: ValueKind): void {
    const k = id(path)
    const existing = this.entries.get(k)
    if (existing && (existing.explicit || !explicit)) {
      if (kind && !existing.kind) existing.kind = kind
      return
    }
    this.entries.set(k, {explicit, key, kind: kind ?? existing?.kind})
  }

  /** @internal used by the scanner */
  recordValue(path: readonly PathSegment[], value: Position, kind: ValueKind): void {
    const entry = this.entries.get(id(path))
    if (entry) {
      entry.value = value
      entry.kind = kind
    } else {
      this.entries.set(id(path), {explicit: true, key: value, kind, value})
    }
  }

  /** The exact entry of a path, if the source defines it. */
  get(path: readonly PathSegment[]): Located | undefined {
    const entry = this.entries.get(id(path))
    return entry && {key: entry.key, kind: entry.kind, value: entry.value}
  }

  /** The kind of value written at a path (tells `5` from `5.0`, which the parsed value cannot). */
  kind(path: readonly PathSegment[]): ValueKind | undefined {
    return this.entries.get(id(path))?.kind
  }

  /**
   * The position to report for a path: its value (when `prefer` is 'value' and it has one) or its
   * key; for a path the source does not define (a missing key), the nearest enclosing table.
   */
  locate(path: readonly PathSegment[], prefer: 'key' | 'value' = 'key'): Position {
    for (let n = path.length; n > 0; n--) {
      const entry = this.entries.get(id(path.slice(0, n)))
      if (!entry) continue
      if (n === path.length && prefer === 'value' && entry.value) return entry.value
      return entry.key
    }
    return {col: 1, line: 1}
  }
}

// Sticky patterns: the scanner hands whole runs of characters to the regex engine instead of
// testing one character at a time (a 100-agent lobu.toml is ~20 kB).
const BARE_KEY = /[A-Za-z0-9_-]+/y
const SCALAR = /[^,\]}#\n\r]*/y
const PLAIN_BASIC = /[^"\\\n]+/y
const SIMPLE_ESCAPES: Record<string, string> = {'"': '"', '\\': '\\', b: '\b', e: '\u001B', f: '\f', n: '\n', r: '\r', t: '\t'}

/** The end of the run `pattern` (sticky) matches at `from` (== from when it does not match). */
function runEnd(pattern: RegExp, s: string, from: number): number {
  pattern.lastIndex = from
  return pattern.test(s) ? pattern.lastIndex : from
}

class Scanner {
  private i = 0
  /** Number of elements seen so far of each array of tables (by resolved path). */
  private readonly arrays = new Map<string, number>()

  constructor(
    private readonly s: string,
    private readonly out: SourceLocator,
  ) {}

  run(): void {
    let table: PathSegment[] = []
    const {s} = this
    while (this.i < s.length) {
      this.skipBlank()
      const c = s[this.i]
      if (c === undefined) break
      if (c === '\n' || c === '\r') {
        this.i++
      } else if (c === '#') {
        this.skipToLineEnd()
      } else if (c === '[') {
        table = this.header()
        this.skipToLineEnd()
      } else {
        this.keyValue(table)
        this.skipToLineEnd()
      }
    }
  }

  private pos(offset = this.i): Position {
    return this.out.position(offset)
  }

  private skipBlank(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++
  }

  /** Blanks, newlines and comments (inside arrays and inline tables). */
  private skipSpace(): void {
    for (;;) {
      const c = this.s[this.i]
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.i++
      else if (c === '#') this.skipToLineEnd()
      else return
    }
  }

  private skipToLineEnd(): void {
    const nl = this.s.indexOf('\n', this.i)
    this.i = nl === -1 ? this.s.length : nl
  }

  private expect(ch: string): void {
    if (this.s[this.i] !== ch) throw new Error(`expected ${ch} at ${this.i}`)
    this.i++
  }

  private header(): PathSegment[] {
    const start = this.i
    const isArray = this.s[this.i + 1] === '['
    this.i += isArray ? 2 : 1
    const {segments} = this.key()
    this.skipBlank()
    this.expect(']')
    if (isArray) this.expect(']')
    const where = this.pos(start)

    const path: PathSegment[] = []
    segments.forEach((segment, n) => {
      const last = n === segments.length - 1
      path.push(segment)
      if (last && isArray) {
        const count = this.arrays.get(id(path)) ?? 0
        this.arrays.set(id(path), count + 1)
        this.out.record(path, where, true, 'array')
        path.push(count)
        this.out.record(path, where, true, 'table')
        return
      }
      this.out.record(path, where, last, 'table')
      const count = this.arrays.get(id(path))
      if (count !== undefined) path.push(count - 1)
    })
    return path
  }

  private keyValue(table: readonly PathSegment[]): void {
    const path = [...table]
    this.keyInto(path)
    this.skipBlank()
    this.expect('=')
    this.skipBlank()
    this.value(path)
  }

  /** Reads a (dotted) key, records each segment under `path` and extends `path` with it. */
  private keyInto(path: PathSegment[]): void {
    const {positions, segments} = this.key()
    segments.forEach((segment, n) => {
      path.push(segment)
      const last = n === segments.length - 1
      this.out.record(path, positions[n]!, last, last ? undefined : 'table')
    })
  }

  private key(): {positions: Position[]; segments: string[]} {
    const segments: string[] = []
    const positions: Position[] = []
    for (;;) {
      this.skipBlank()
      positions.push(this.pos())
      const c = this.s[this.i]
      if (c === '"') segments.push(this.basicString())
      else if (c === "'") segments.push(this.literalString())
      else {
        const start = this.i
        this.i = runEnd(BARE_KEY, this.s, start)
        if (this.i === start) throw new Error(`expected a key at ${start}`)
        segments.push(this.s.slice(start, this.i))
      }
      this.skipBlank()
      if (this.s[this.i] !== '.') return {positions, segments}
      this.i++
    }
  }

  private value(path: PathSegment[]): void {
    const start = this.i
    const c = this.s[this.i]
    let kind: ValueKind
    if (c === '"' || c === "'") {
      this.skipString()
      kind = 'string'
    } else if (c === '[') {
      this.array(path)
      kind = 'array'
    } else if (c === '{') {
      this.inlineTable(path)
      kind = 'table'
    } else {
      kind = this.scalar()
    }
    this.out.recordValue(path, this.pos(start), kind)
  }

  private array(path: PathSegment[]): void {
    this.i++ // [
    for (let index = 0; ; index++) {
      this.skipSpace()
      if (this.s[this.i] === ']') break
      if (this.i >= this.s.length) throw new Error('unterminated array')
      const element = [...path, index]
      this.out.record(element, this.pos(), true)
      this.value(element)
      this.skipSpace()
      if (this.s[this.i] === ',') this.i++
      else if (this.s[this.i] !== ']') throw new Error(`unexpected character in array at ${this.i}`)
    }
    this.i++ // ]
  }

  private inlineTable(path: PathSegment[]): void {
    this.i++ // {
    for (;;) {
      this.skipSpace()
      if (this.s[this.i] === '}') break
      if (this.i >= this.s.length) throw new Error('unterminated inline table')
      const entry = [...path]
      this.keyInto(entry)
      this.skipBlank()
      this.expect('=')
      this.skipBlank()
      this.value(entry)
      this.skipSpace()
      if (this.s[this.i] === ',') this.i++
      else if (this.s[this.i] !== '}') throw new Error(`unexpected character in inline table at ${this.i}`)
    }
    this.i++ // }
  }

  private scalar(): ValueKind {
    const start = this.i
    this.i = runEnd(SCALAR, this.s, start)
    const token = this.s.slice(start, this.i).trim()
    if (token === '') throw new Error(`expected a value at ${start}`)
    if (token === 'true' || token === 'false') return 'boolean'
    if (/^\d{4}-\d{2}-\d{2}/.test(token) || /^\d{2}:\d{2}/.test(token)) return 'datetime'
    if (/^[+-]?0[xob]/.test(token)) return 'integer'
    if (/^[+-]?(inf|nan)$/.test(token) || /[.eE]/.test(token)) return 'float'
    return 'integer'
  }

  private skipString(): void {
    const {s} = this
    if (s.startsWith('"""', this.i) || s.startsWith("'''", this.i)) {
      const quote = s[this.i]!
      const escapes = quote === '"'
      this.i += 3
      for (;;) {
        if (this.i >= s.length) throw new Error('unterminated string')
        if (escapes && s[this.i] === '\\') {
          this.i += 2
        } else if (s.startsWith(quote.repeat(3), this.i)) {
          this.i += 3
          // Up to two quotes right before the closing delimiter belong to the content.
          for (let extra = 0; extra < 2 && s[this.i] === quote; extra++) this.i++
          return
        } else {
          this.i++
        }
      }
    }
    if (s[this.i] === '"') this.basicString()
    else this.literalString()
  }

  private basicString(): string {
    const {s} = this
    this.i++ // "
    let out = ''
    for (;;) {
      const plainEnd = runEnd(PLAIN_BASIC, s, this.i)
      if (plainEnd > this.i) {
        out += s.slice(this.i, plainEnd)
        this.i = plainEnd
      }
      const c = s[this.i]
      if (c === undefined || c === '\n') throw new Error('unterminated string')
      if (c === '"') {
        this.i++
        return out
      }
      if (c === '\\') {
        const e = s[this.i + 1]
        if (e !== undefined && Object.hasOwn(SIMPLE_ESCAPES, e)) {
          out += SIMPLE_ESCAPES[e]
          this.i += 2
        } else if (e === 'u' || e === 'U' || e === 'x') {
          const len = e === 'u' ? 4 : e === 'U' ? 8 : 2
          out += String.fromCodePoint(Number.parseInt(s.slice(this.i + 2, this.i + 2 + len), 16))
          this.i += 2 + len
        } else {
          throw new Error(`bad escape at ${this.i}`)
        }
        continue
      }
      out += c
      this.i++
    }
  }

  private literalString(): string {
    const start = ++this.i // '
    const end = this.s.indexOf("'", start)
    const newline = this.s.indexOf('\n', start)
    if (end === -1 || (newline !== -1 && newline < end)) throw new Error('unterminated string')
    this.i = end + 1
    return this.s.slice(start, end)
  }
}

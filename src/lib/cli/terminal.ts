/**
 * The one place that decides what the terminal can do: colour, spinners, prompts.
 * Colour and spinners only on a TTY, never with NO_COLOR, CI or --json.
 * Prompts only when stdin and stderr are TTYs, CI is unset and --yes was not given.
 */
export interface TerminalOptions {
  json?: boolean
  yes?: boolean
}

function envSet(name: string): boolean {
  const v = process.env[name]
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false'
}

export function isCI(): boolean {
  return envSet('CI')
}

/** True when stderr is a terminal a person is looking at and decoration is allowed. */
export function canDecorate(opts: TerminalOptions = {}): boolean {
  if (opts.json) return false
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (isCI()) return false
  return Boolean(process.stderr.isTTY)
}

/**
 * The columns of a stream when it is a terminal of known width (> 0); undefined otherwise (a pipe,
 * a file, or a pseudo-terminal that reports 0 columns, as under `script` or some CI runners).
 */
export function terminalWidth(stream: {isTTY?: boolean; columns?: number} = process.stderr): number | undefined {
  if (!stream.isTTY) return undefined
  const columns = stream.columns
  return typeof columns === 'number' && Number.isFinite(columns) && columns >= 1 ? Math.floor(columns) : undefined
}

/**
 * True when a spinner may redraw its line on stderr: decoration is allowed and the terminal's width
 * is known. A spinner measures its line against the width to know how far to move the cursor back:
 * at 0 columns that is an endless stream of cursor escapes.
 */
export function canAnimate(opts: TerminalOptions = {}): boolean {
  return canDecorate(opts) && terminalWidth(process.stderr) !== undefined
}

/** True when we may ask the user a question. */
export function canPrompt(opts: TerminalOptions = {}): boolean {
  if (opts.yes || opts.json) return false
  if (isCI()) return false
  return Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY)
}

export function debugEnabled(verbose = false): boolean {
  return verbose || envSet('LOBU_DEBUG')
}

/** A minimal spinner facade; ora is loaded lazily and only when decoration is allowed. */
export interface Spinner {
  text: string
  stop(): void
  succeed(text?: string): void
  fail(text?: string): void
}

const noopSpinner = (text: string): Spinner => ({
  text,
  stop() {},
  succeed() {},
  fail() {},
})

/**
 * A spinner on stderr, only where it can animate (canAnimate); otherwise one that does nothing.
 * Should the terminal shrink to 0 columns while it spins, it stops at the resize, before it would
 * draw against that width.
 */
export async function startSpinner(text: string, opts: TerminalOptions = {}): Promise<Spinner> {
  if (!canAnimate(opts)) return noopSpinner(text)
  const {default: ora} = await import('ora')
  const s = ora({text, stream: process.stderr})
  const stderr = process.stderr
  // 'resize' is emitted right after the stream's columns change, before the next frame is drawn.
  const onResize = () => {
    if (terminalWidth(stderr) === undefined) s.stop()
  }
  const detach = () => stderr.off('resize', onResize)
  stderr.on('resize', onResize)
  s.start()
  return {
    get text() {
      return s.text
    },
    set text(value: string) {
      if (terminalWidth(stderr) !== undefined) s.text = value
    },
    stop() {
      detach()
      s.stop()
    },
    // Only the text setter and a frame measure against the width; stopping clears what was drawn.
    succeed(value?: string) {
      detach()
      s.succeed(value)
    },
    fail(value?: string) {
      detach()
      s.fail(value)
    },
  }
}

/** Styling helpers that degrade to plain text when decoration is off. Loaded lazily. */
export async function styles(opts: TerminalOptions = {}) {
  const {Chalk} = await import('chalk')
  const chalk = new Chalk({level: canDecorate(opts) ? 1 : 0})
  return chalk
}

/**
 * Text that comes from outside (a model, an MCP server, a tool's arguments or result, a gateway's
 * error) made safe to print on a terminal: C0 control characters (except newline and tab with
 * `multiline`), DEL, C1 control characters and the bidirectional overrides become visible
 * placeholders (`␛`, `\x9b`, `\u202e`), so no escape sequence (colours, cursor moves, OSC 52
 * clipboard writes, hyperlinks, a reordered line) reaches the terminal. Without `multiline` the
 * text is made one line: newlines, tabs and carriage returns become spaces (runs collapse).
 */
export function neutralizeControls(text: string, opts: {multiline?: boolean} = {}): string {
  const flat = opts.multiline ? text : text.replace(/[\t\n\r\v\f]+/g, ' ')
  return flat.replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]|\n|\t/g, (c) => {
    const code = c.charCodeAt(0)
    if (c === '\n' || c === '\t') return opts.multiline ? c : ' '
    if (code < 0x20) return String.fromCharCode(0x2400 + code) // Control Pictures: ␀ … ␛ …
    if (code === 0x7f) return '\u2421' // ␡
    return code <= 0xff ? `\\x${code.toString(16)}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/**
 * Tool calls in `lobu chat`, loaded on a turn's first tool event.
 *
 * - Each call is one dim stderr line: `⚙ files.read_text_file {"path":"a.txt"}`, completed by
 *   ` ✓ 12 ms`, ` ✗ <short error>`, ` ✗ denied` or ` – skipped (dry run)` when its result
 *   arrives (a result that does not follow its own call line gets a line of its own). Names,
 *   arguments and summaries come from the model and the MCP servers: they are printed with control
 *   characters neutralised and cut to the terminal's width.
 * - A call that needs approval is decided here: asked on a terminal (an @inquirer select, loaded
 *   only then), approved once with --auto-approve, denied otherwise (with a hint on stderr saying
 *   how to allow it). The turn waits while the question is open: nothing else is written then.
 * - With --json every event is passed through as a JSON line; approvals follow the same rules
 *   without ever asking.
 */
import {OperationError} from '../core/errors.js'
import {neutralizeControls} from '../cli/terminal.js'
import {cutToWidth, stringWidth} from '../cli/width.js'
import type {Output, Renderer} from './render.js'
import {ChatInterrupted, type ChatEvent} from './stream.js'

/** The decisions of `POST /api/v1/sessions/:key/approvals/:callId`. */
export type Decision = 'once' | '1h' | '24h' | 'always' | 'deny'

export const DECISION_CHOICES: ReadonlyArray<{value: Decision; name: string}> = [
  {value: 'once', name: 'Allow once'},
  {value: '1h', name: 'Allow for 1 hour'},
  {value: '24h', name: 'Allow for 24 hours'},
  {value: 'always', name: 'Always allow'},
  {value: 'deny', name: 'Deny'},
]

/** How a call that needs approval is decided: asked on the terminal, approved once, or denied. */
export type ApprovalMode = 'prompt' | 'auto' | 'deny'

export interface ApprovalRequest {
  callId: string
  server: string
  tool: string
  /** The arguments as JSON text (or whatever the model sent). */
  arguments: string
  expiresAt?: string
}

/**
 * Asks the user for a decision. Rejects like @inquirer does: an error named `AbortPromptError`
 * when `signal` aborts, `ExitPromptError` on Ctrl-C.
 */
export type AskApproval = (request: ApprovalRequest, signal: AbortSignal) => Promise<Decision>

export interface ToolActivityOptions {
  /** Where every other event goes (and the spinner / open stdout line to settle before writing). */
  renderer: Renderer
  json: boolean
  stderr: Output
  dim?: (text: string) => string
  /** Columns of stderr when it is a terminal (else lines are cut at 160). */
  width?: number
  mode: ApprovalMode
  /** The question (default: an @inquirer select on stderr). */
  ask?: AskApproval
  /** Send a decision to the gateway. */
  decide(callId: string, decision: Decision): Promise<void>
  /** For the lobu.toml hint. */
  agentId: string
  /** Ctrl-C. */
  signal: AbortSignal
  now?: () => number
}

export interface ToolActivity {
  /** Every event of the turn, once a tool event was seen (other events go on to the renderer). */
  event(ev: ChatEvent): void | Promise<void>
  /** End a call line still waiting for its result (before something else writes to stderr). */
  flush(): void
  finish(): void
}

/** Room kept at the end of a call line for its result (` ✗ <short error>`). */
const RESULT_ROOM = 24
const DEFAULT_WIDTH = 160
const MAX_ERROR = 80
const MAX_ARGUMENT_LINES = 12

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

/** `server.tool` of a tool event (else the name the model saw), safe to print. */
export function toolLabel(data: Record<string, unknown>): string {
  const server = str(data.server)
  const tool = str(data.tool)
  const label = server && tool ? `${server}.${tool}` : (str(data.name) ?? tool ?? 'tool')
  return neutralizeControls(label)
}

function parseArguments(value: unknown): {parsed: true; value: unknown} | {parsed: false; text: string} {
  if (typeof value !== 'string') return {parsed: true, value}
  try {
    return {parsed: true, value: JSON.parse(value) as unknown}
  } catch {
    return {parsed: false, text: value}
  }
}

/** The arguments on one line: compact JSON (or the text the model sent), safe to print. */
export function compactArguments(value: unknown): string {
  if (value === undefined || value === null || value === '') return ''
  const args = parseArguments(value)
  const text = args.parsed ? (JSON.stringify(args.value) ?? '') : args.text
  return neutralizeControls(text).trim()
}

/** "12 ms", "1.5 s", "83 s". */
export function formatDuration(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return ''
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.round(ms / 1000)} s`
}

/** What a result adds to its call line: `✓ 12 ms`, `✗ denied`, `– skipped (dry run)`, `✗ <short error>`. */
export function resultText(data: Record<string, unknown>): string {
  if (data.skipped === 'dry_run') return '– skipped (dry run)'
  if (data.skipped === 'denied') return '✗ denied'
  if (data.ok === true) return `✓ ${formatDuration(data.durationMs)}`.trimEnd()
  const summary = str(data.summary)
  const first = summary ? neutralizeControls(summary.trim().split(/\r?\n/, 1)[0] ?? '').trim() : ''
  return `✗ ${first ? cutToWidth(first, MAX_ERROR) : 'failed'}`
}

/** A call's line, without its result: `⚙ label args`, cut to leave room for the result. */
export function callLine(data: Record<string, unknown>, width: number): string {
  const args = compactArguments(data.arguments)
  const line = `⚙ ${toolLabel(data)}${args ? ` ${args}` : ''}`
  return cutToWidth(line, Math.max(width - RESULT_ROOM, Math.min(width, 20)))
}

/** The arguments for the approval question: pretty JSON, at most 12 lines, each cut to the width. */
export function argumentLines(value: unknown, width: number, indent = '    '): string[] {
  const args = parseArguments(value)
  const text = args.parsed ? (JSON.stringify(args.value, null, 2) ?? '') : args.text
  let lines = neutralizeControls(text, {multiline: true}).replaceAll('\t', '  ').split('\n')
  if (lines.length > MAX_ARGUMENT_LINES) {
    const more = lines.length - (MAX_ARGUMENT_LINES - 1)
    lines = [...lines.slice(0, MAX_ARGUMENT_LINES - 1), `… (${more} more lines)`]
  }
  return lines.map((l) => indent + cutToWidth(l, Math.max(width - indent.length, 10)))
}

/** `/mcp/<server>/tools/<tool>`: the pattern of tools.pre_approved and of grants. */
export function toolPattern(server: string, tool: string): string {
  return `/mcp/${server}/tools/${tool}`
}

function approvalRequest(data: Record<string, unknown>): ApprovalRequest | undefined {
  const callId = str(data.callId)
  if (!callId) return undefined
  const args = data.arguments
  return {
    callId,
    server: str(data.server) ?? '?',
    tool: str(data.tool) ?? str(data.name) ?? '?',
    arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}),
    expiresAt: str(data.expiresAt),
  }
}

/**
 * The real question: an @inquirer select (on stdin and stderr unless told otherwise), loaded only
 * when a call asks.
 */
export function terminalAsk(streams: {input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream} = {}): AskApproval {
  return async (request, signal) => {
    const {select} = await import('@inquirer/prompts')
    const label = neutralizeControls(`${request.server}.${request.tool}`)
    return select<Decision>(
      {message: `Allow ${label}?`, choices: DECISION_CHOICES.map((c) => ({...c})), pageSize: DECISION_CHOICES.length},
      {input: streams.input, output: streams.output ?? process.stderr, signal},
    )
  }
}

const errorName = (err: unknown) => (err as {name?: unknown} | null)?.name

export function toolActivity(opts: ToolActivityOptions): ToolActivity {
  const {renderer, stderr} = opts
  const dim = opts.dim ?? ((t: string) => t)
  const width = opts.width && opts.width > 0 ? opts.width : DEFAULT_WIDTH
  const now = opts.now ?? Date.now
  const mode: ApprovalMode = opts.json && opts.mode === 'prompt' ? 'deny' : opts.mode
  const ask = opts.ask ?? terminalAsk()
  const labels = new Map<string, string>()
  const hinted = new Set<string>()
  /** The call line waiting for its result on the same line. */
  let open: {callId: string; used: number} | undefined

  const line = (text: string) => stderr.write(text + '\n')
  const flush = () => {
    if (!open) return
    stderr.write('\n')
    open = undefined
  }
  /** Before anything goes to stderr: the spinner stops, an open stdout line ends, an open call line ends. */
  const settle = () => {
    renderer.pause()
    flush()
  }

  const onCall = (data: Record<string, unknown>) => {
    settle()
    const callId = str(data.callId)
    const label = toolLabel(data)
    if (callId) labels.set(callId, label)
    const text = callLine(data, width)
    stderr.write(dim(text))
    if (callId) open = {callId, used: stringWidth(text)}
    else line('')
  }

  const onResult = (data: Record<string, unknown>) => {
    renderer.pause()
    const callId = str(data.callId)
    const status = resultText(data)
    if (open && callId === open.callId) {
      const room = width - open.used - 1
      open = undefined
      line(dim(' ' + cutToWidth(status, Math.max(room, 12))))
      return
    }
    flush()
    const label = (callId && labels.get(callId)) ?? 'tool'
    line(dim(cutToWidth(`⚙ ${label} ${status}`, width)))
  }

  const denyHint = (req: ApprovalRequest) => {
    const pattern = neutralizeControls(toolPattern(req.server, req.tool))
    if (hinted.has(pattern)) return
    hinted.add(pattern)
    if (!opts.json) settle()
    const label = neutralizeControls(`${req.server}.${req.tool}`)
    const why = opts.json ? 'lobu chat --json never asks' : 'there is no terminal to ask on'
    line(`Denied ${label}: it needs approval and ${why}.`)
    line(
      `Hint: allow such calls with --auto-approve (each call once), or pre-approve the tool in lobu.toml: ` +
        `[agents.${neutralizeControls(opts.agentId)}.tools] pre_approved = [${JSON.stringify(pattern)}]`,
    )
  }

  const question = async (req: ApprovalRequest): Promise<Decision> => {
    const label = neutralizeControls(`${req.server}.${req.tool}`)
    settle()
    line(`${label} needs your approval (MCP server ${neutralizeControls(req.server)}, tool ${neutralizeControls(req.tool)}), arguments:`)
    for (const l of argumentLines(req.arguments, width)) line(l)
    const expires = req.expiresAt ? Date.parse(req.expiresAt) : Number.NaN
    const expiry = Number.isFinite(expires) ? AbortSignal.timeout(Math.max(0, expires - now())) : undefined
    const signal = expiry ? AbortSignal.any([opts.signal, expiry]) : opts.signal
    try {
      return await ask(req, signal)
    } catch (error) {
      if (opts.signal.aborted || errorName(error) === 'ExitPromptError') throw new ChatInterrupted()
      if (expiry?.aborted) {
        // Denied here too, so that a clock ahead of the gateway's never leaves the turn waiting.
        line(dim(`No answer before the approval expired: ${label} is denied`))
        return 'deny'
      }
      throw error
    }
  }

  const onApproval = async (data: Record<string, unknown>) => {
    const req = approvalRequest(data)
    if (!req) return
    // Only what writes settles the terminal: with --auto-approve the result still ends the call's line.
    let decision: Decision
    if (mode === 'auto') {
      decision = 'once'
    } else if (mode === 'deny') {
      decision = 'deny'
      denyHint(req)
    } else {
      decision = await question(req)
    }
    try {
      await opts.decide(req.callId, decision)
    } catch (error) {
      const e = error as {status?: unknown; code?: unknown}
      if (e.status === 409 || e.code === 'ALREADY_DECIDED') {
        if (!opts.json) settle()
        line(dim(`The call to ${neutralizeControls(`${req.server}.${req.tool}`)} was already decided (or has expired)`))
        return
      }
      if (opts.signal.aborted || errorName(error) === 'AbortError') throw error
      const e2 = error as {message?: unknown; hint?: unknown}
      // Its own code: a failure to send a decision is not a dropped stream to resume.
      throw new OperationError(`could not send the decision for ${neutralizeControls(`${req.server}.${req.tool}`)}: ${String(e2.message ?? error)}`, {
        code: 'APPROVAL_FAILED',
        hint: typeof e2.hint === 'string' ? e2.hint : 'The turn is waiting for a decision; check the gateway and try again',
        cause: error,
      })
    }
  }

  return {
    event(ev) {
      if (opts.json) {
        renderer.event(ev)
        return ev.event === 'approval_required' ? onApproval(ev.data) : undefined
      }
      switch (ev.event) {
        case 'tool_call':
          return onCall(ev.data)
        case 'tool_result':
          return onResult(ev.data)
        case 'approval_required':
          return onApproval(ev.data)
        default:
          flush()
          renderer.event(ev)
      }
    },
    flush,
    finish: flush,
  }
}

/**
 * `lobu chat` as a function: make sure a gateway answers (booting the embedded one for `local`),
 * pick the agent and thread, start or resume the session, send the message and follow its turn.
 */
import {randomBytes} from 'node:crypto'

import {NoModelError, OperationError, type LobuError} from '../core/errors.js'
import type {ApiClient} from '../client/index.js'
import type {Project} from '../config/index.js'
import {checkState, getLastThread, setLastThread, type Env, type ResolvedContext} from '../context/index.js'
import {type EnsuredGateway, isLoopbackUrl, openLocalSession} from './gateway.js'
import {humanRenderer, jsonRenderer, type Output, type Renderer, type Spinner} from './render.js'
import {ChatInterrupted, followTurn, type ChatEvent} from './stream.js'
import type {AskApproval, ToolActivity} from './tools.js'
import type {CreateSessionRequest, SessionView} from '../contract/api.js'

/** Events that load the tool display and approvals (./tools.ts). */
const TOOL_EVENTS = new Set(['tool_call', 'approval_required', 'tool_result'])

export interface ChatOptions {
  prompt: string
  agent?: string
  thread?: string
  /** With a thread: start it afresh. */
  forceNew?: boolean
  /** Resume the last thread used with this context and agent. */
  continue?: boolean
  /** Tools that are not read-only are answered "skipped (dry run)" and never run. */
  dryRun?: boolean
  /** Approve, once each, every tool call that asks (never a question). */
  autoApprove?: boolean
  /**
   * Whether a tool call that needs approval may be asked about on the terminal (the command
   * decides, with canPrompt). Otherwise, without autoApprove, such calls are denied.
   */
  canPrompt?: boolean
  /** The approval question (default: an @inquirer select on stderr). */
  ask?: AskApproval
  /** Idle timeout in seconds. */
  timeoutSec: number
  /** Boot the embedded gateway when the local context does not answer. */
  boot: boolean
  ctx: ResolvedContext
  /** The project of the working directory, if any (local context: default agent, boot). */
  project?: Project
  /**
   * The API client; `fresh` asks for a new one, made after an embedded boot (the booted gateway
   * stores a new token).
   */
  client: (fresh?: boolean) => Promise<ApiClient>
  /** Ctrl-C. */
  signal: AbortSignal
  version: string
  output: {
    json: boolean
    verbose?: boolean
    stdout: Output
    stderr: Output
    /** Starts a spinner on stderr (undefined when stderr is not a terminal). */
    spinner?: () => Promise<Spinner | undefined>
    dim?: (text: string) => string
    /** Applied to each text delta before stdout (see HumanRendererOptions.text). */
    text?: (text: string) => string
    /** Columns of stderr when it is a terminal (tool lines are cut to it). */
    width?: number
  }
  /** For state.json (default process.env). */
  env?: Env
  /** Reconnect tuning (tests). */
  reconnectDelayMs?: (attempt: number) => number
}

export interface ChatResult {
  sessionKey: string
  agentId: string
  thread: string
  messageId?: string
  /** The terminal event: `done` (an `error` throws). */
  terminal: ChatEvent
}

/** A thread id for a one-shot chat: `chat-20250101T120000-1a2b3c`. */
export function newThreadId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15)
  return `chat-${stamp}-${randomBytes(3).toString('hex')}`
}

/** The agent of a chat: --agent, else the first agent of lobu.toml on `local`, else the org default (undefined). */
export function chooseAgent(flag: string | undefined, ctx: Pick<ResolvedContext, 'name'>, project?: Project): string | undefined {
  if (flag) return flag
  if (ctx.name === 'local' && project) return Object.keys(project.config.agents)[0]
  return undefined
}

/** The error an `error` event becomes: exit 4 for NO_MODEL_CONFIGURED, 1 otherwise. */
export function errorFromEvent(data: Record<string, unknown>): LobuError {
  const code = typeof data.code === 'string' ? data.code : 'TURN_FAILED'
  const lines = (typeof data.message === 'string' && data.message ? data.message : 'the turn failed').split('\n')
  const hint = typeof data.hint === 'string' ? data.hint : undefined
  const details = lines.slice(1)
  if (code === 'NO_MODEL_CONFIGURED') return new NoModelError(`${lines[0]} (${code})`, {code, hint, details})
  return new OperationError(`${lines[0]} (${code})`, {code, hint, details})
}

/** Marks an error whose event was already printed (--json): the command only sets the exit code. */
export function markReported<E extends Error>(err: E): E {
  return Object.assign(err, {reported: true})
}

export async function runChat(opts: ChatOptions): Promise<ChatResult> {
  const {ctx, output} = opts
  const dim = output.dim ?? ((t: string) => t)
  const stderrLine = (line: string) => {
    if (!output.json) output.stderr.write(line + '\n')
  }
  const env = opts.env ?? process.env

  const agent = chooseAgent(opts.agent, ctx, opts.project)
  let thread = opts.thread
  checkState(env) // a corrupt state.json fails now (exit 2), not after the turn
  if (!thread && opts.continue) {
    thread = getLastThread(ctx, agent ?? 'default', env)
    if (!thread) stderrLine(dim(`No earlier thread with ${agent ? `agent "${agent}"` : 'the default agent'} on context "${ctx.name}": starting a new one`))
  }
  thread ??= newThreadId()
  const body: CreateSessionRequest = {thread}
  if (agent) body.agentId = agent
  if (opts.forceNew && opts.thread) body.forceNew = true
  const openSession = (client: ApiClient, signal: AbortSignal) => client.post<SessionView>('/api/v1/sessions', body, {signal})

  let gateway: EnsuredGateway = {booted: false}
  let session: SessionView | undefined
  let renderer: Renderer | undefined
  let tools: ToolActivity | undefined
  try {
    let client: ApiClient
    if (ctx.name === 'local' && isLoopbackUrl(ctx.url)) {
      // The session is requested at once; /health (which project? boot?) is asked alongside.
      const opened = await openLocalSession({
        ctx,
        project: opts.project,
        boot: opts.boot,
        version: opts.version,
        verbose: output.verbose,
        note: (line) => stderrLine(dim(line)),
        warn: (line) => stderrLine(line),
        client: opts.client,
        open: openSession,
        signal: opts.signal,
      })
      gateway = opened.gateway
      client = opened.client
      session = opened.result
    } else {
      client = await opts.client()
      session = await openSession(client, opts.signal)
    }
    const {sessionKey} = session

    renderer = output.json
      ? jsonRenderer(output.stdout)
      : humanRenderer({stdout: output.stdout, stderr: output.stderr, spinner: await output.spinner?.(), dim, verbose: output.verbose, text: output.text})
    const r = renderer
    let messageId: string | undefined
    const agentId = session.agentId
    // Loaded on the turn's first tool event; from then on every event goes through it.
    const startTools = async (ev: ChatEvent) => {
      const {toolActivity} = await import('./tools.js')
      tools = toolActivity({
        renderer: r,
        json: output.json,
        stderr: output.stderr,
        dim,
        width: output.width,
        mode: opts.autoApprove ? 'auto' : opts.canPrompt && !output.json ? 'prompt' : 'deny',
        ask: opts.ask,
        agentId,
        signal: opts.signal,
        decide: async (callId, decision) => {
          const route = `/api/v1/sessions/${encodeURIComponent(sessionKey)}/approvals/${encodeURIComponent(callId)}`
          await client.post(route, {decision}, {signal: opts.signal})
        },
      })
      return tools.event(ev)
    }
    const terminal = await followTurn({
      client,
      sessionKey,
      content: opts.prompt,
      dryRun: opts.dryRun,
      idleMs: opts.timeoutSec * 1000,
      signal: opts.signal,
      reconnectDelayMs: opts.reconnectDelayMs,
      onEvent: (ev) => {
        if (typeof ev.data.messageId === 'string') messageId = ev.data.messageId
        if (tools) return tools.event(ev)
        if (TOOL_EVENTS.has(ev.event)) return startTools(ev)
        r.event(ev)
      },
      onReconnect: (n) => {
        tools?.flush()
        stderrLine(dim(`The stream dropped: reconnecting (${n})…`))
      },
    })
    tools?.finish()
    r.finish()
    if (terminal.event === 'error') {
      const err = errorFromEvent(terminal.data)
      throw output.json ? markReported(err) : err
    }
    return {sessionKey, agentId: session.agentId, thread: session.thread, messageId, terminal}
  } catch (err) {
    if (opts.signal.aborted && !(err instanceof ChatInterrupted)) throw new ChatInterrupted()
    throw err
  } finally {
    tools?.finish()
    renderer?.finish()
    // Remembered for -C once the turn is over (whatever its outcome): not on the way to the first token.
    if (session) rememberThread(ctx, session, env, output.stderr)
    await gateway.close?.()
  }
}

/** After the turn: a state.json that cannot be written is a warning, not a failure of an answered chat. */
function rememberThread(ctx: ResolvedContext, session: SessionView, env: Env, stderr: Output): void {
  try {
    setLastThread(ctx, session.agentId, session.thread, env)
  } catch (error) {
    stderr.write(`Warning: could not remember the thread for -C in state.json: ${(error as Error).message}\n`)
  }
}

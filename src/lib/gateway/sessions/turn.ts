/**
 * One agent turn, independent of where its events go (a session's SSE log, or the
 * OpenAI-compatible endpoint): choose the provider and key, build the prompt, stream the
 * provider's answer into a sink, and report exactly one outcome.
 */
import type {EgressPolicy} from '../egress/index.js'
import {performance} from 'node:perf_hooks'

import {historyBudget, trimHistory} from '../providers/history.js'
import {DEFAULT_TIMEOUT_MS, ProviderError, streamTurnBatches, type ChatMessage, type ProviderEvent, type ToolCall, type TurnInput, type Usage} from '../providers/index.js'
import {summarize} from '../tools/results.js'
import type {ToolCallInfo, ToolResultInfo, TurnTools} from '../tools/service.js'
import type {AgentRow, ProviderSpec, StoreTx} from '../store/types.js'
import {noModelConfigured, resolveCredentials, type GrantFinder, type PrefetchedCredentials} from './credentials.js'
import {normalizeConversation, systemPrompt} from './prompt.js'

/** Why a turn was cancelled: the abort reason of the turn's signal. */
export class TurnAbort {
  constructor(
    readonly code: 'ABORTED' | 'SHUTDOWN',
    readonly message: string,
  ) {}
}

export interface TurnEnvironment {
  store: StoreTx
  env: NodeJS.ProcessEnv
  installKey: Buffer
  systemProviders: readonly ProviderSpec[]
  /** The gateway's base URL (for settingsUrl). */
  url: string
  /** Idle timeout of the provider call; default $LOBU_PROVIDER_TIMEOUT_MS, else 120 s. */
  timeoutMs?: number
  grants?: GrantFinder
  /** The egress guard for tenant-set provider URLs (default: unguarded). */
  egress?: EgressPolicy
  /** The provider stream (tests inject one); default the real provider layer. */
  stream?: (input: TurnInput) => AsyncIterable<ProviderEvent[]>
}

export interface TurnRequest {
  agent: AgentRow
  userId: string
  /** Earlier messages, oldest first. */
  history: readonly ChatMessage[]
  prompt: string
  /** Appended to the agent's system prompt (e.g. system messages of an OpenAI request). */
  extraSystem?: string
  signal: AbortSignal
  dryRun?: boolean
  /** Secrets and grant targets already read with the turn (no query to choose the key). */
  prefetched?: PrefetchedCredentials
  /**
   * The agent's tools for this turn (tools/service.ts), made once the provider is chosen: offered
   * to the model, and their calls run between rounds. Without it the model is offered none.
   */
  tools?: () => Promise<TurnTools | undefined>
}

export interface TurnSink {
  turn(info: {provider: string; model: string}): void | Promise<void>
  delta(text: string): void | Promise<void>
  /** A call the model made (`name` as offered; server and tool empty for an unknown name). */
  toolCall(call: ToolCallInfo): void | Promise<void>
  /** A call waits for the user's decision. */
  approvalRequired?(info: {callId: string; server: string; tool: string; arguments: string; expiresAt: string}): void | Promise<void>
  /** The result of a call (or why it did not run). */
  toolResult?(result: ToolResultInfo): void | Promise<void>
  /** How much of a round the gateway itself spent, tool time excluded (benchmarks). */
  roundOverhead?(ms: number): void
}

export interface TurnErrorInfo {
  code: string
  message: string
  hint?: string
  settingsUrl?: string
  /** The provider's HTTP status (PROVIDER_ERROR / PROVIDER_AUTH). */
  status?: number
}

/**
 * `text`: all the assistant text of the turn; `messages`: the turn's messages after the user's
 * prompt, for the history (assistant messages with their tool calls, tool results, the answer).
 */
export type TurnOutcome =
  | {kind: 'done'; text: string; messages: ChatMessage[]; finishReason: string; usage: Usage; provider: string; model: string}
  | {kind: 'error'; text: string; messages: ChatMessage[]; error: TurnErrorInfo; provider?: string; model?: string}

/** Rounds of model → tool calls → results before a turn ends with TOOL_LOOP_LIMIT. */
export const MAX_TOOL_ROUNDS = 16
/** Tool calls of one round running at once. */
export const TOOL_CONCURRENCY = 4

export function maxToolRounds(env: NodeJS.ProcessEnv): number {
  const raw = Number(env.LOBU_MAX_TOOL_ROUNDS)
  return Number.isInteger(raw) && raw > 0 ? raw : MAX_TOOL_ROUNDS
}

export function turnTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = Number(env.LOBU_PROVIDER_TIMEOUT_MS)
  return Number.isFinite(raw) && raw > 0 ? raw : DEFAULT_TIMEOUT_MS
}

function abortInfo(signal: AbortSignal): TurnErrorInfo {
  const reason = signal.reason
  if (reason instanceof TurnAbort) return {code: reason.code, message: reason.message}
  return {code: 'ABORTED', message: 'the turn was cancelled'}
}

function providerErrorInfo(err: ProviderError, signal: AbortSignal, agentId: string): TurnErrorInfo {
  if (err.code === 'ABORTED' || signal.aborted) return abortInfo(signal)
  const info: TurnErrorInfo = {code: err.code, message: err.message}
  if (err.status !== undefined) info.status = err.status
  if (err.code === 'PROVIDER_AUTH') info.hint = `check the key of provider "${err.provider ?? '?'}" for agent "${agentId}" (lobu.toml, .env), then run \`lobu apply\``
  else if (err.code === 'TIMEOUT') info.hint = 'the provider stopped sending; try again, or check its status page'
  else if (err.retryable) info.hint = 'try again in a moment'
  return info
}

/** Run `fn` over the items, at most `limit` at once; results in item order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!, i)
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return out
}

/**
 * Run one turn. Never throws for provider or abort problems: they are the `error` outcome. It
 * can only throw before the provider is called (reading credentials, building the prompt, the
 * sink's turn()), so a caller that catches has no partial reply to keep.
 *
 * With tools: each round streams the model's answer; when it ends with tool calls, each call is
 * decided and run (at most TOOL_CONCURRENCY at once, results in call order), the results go
 * back to the model, and the next round starts — until a text answer or maxToolRounds rounds
 * (TOOL_LOOP_LIMIT, with the text so far). A tool's failure is a result, never the turn's end.
 */
export async function runAgentTurn(env: TurnEnvironment, req: TurnRequest, sink: TurnSink): Promise<TurnOutcome> {
  const {agent, signal} = req
  if (signal.aborted) return {kind: 'error', text: '', messages: [], error: abortInfo(signal)}

  const chosen = await resolveCredentials(
    {store: env.store, env: env.env, installKey: env.installKey, systemProviders: env.systemProviders, grants: env.grants, prefetched: req.prefetched, egress: env.egress},
    agent,
    req.userId,
  )
  if (!chosen.ok) {
    const details = noModelConfigured(agent.agentId, chosen.skipped, env.url)
    return {kind: 'error', text: '', messages: [], error: details}
  }
  const {target} = chosen.provider
  const tools = req.tools ? await req.tools() : undefined
  let system = [systemPrompt(agent.spec), req.extraSystem?.trim() ?? ''].filter(Boolean).join('\n\n')
  if (tools && tools.unavailable.length > 0) {
    system = [system, `These tool servers are unavailable right now: ${tools.unavailable.map((u) => u.message).join('; ')}`].filter(Boolean).join('\n\n')
  }
  const conversation = normalizeConversation([...req.history, {role: 'user', content: req.prompt}])
  let messages = trimHistory(conversation, historyBudget(target.model, system))

  let text = ''
  const added: ChatMessage[] = []
  const usage: Usage = {inputTokens: 0, outputTokens: 0}
  const meta = {provider: target.id, model: target.model}
  const started = sink.turn(meta)
  if (started) await started
  const stream = env.stream ?? streamTurnBatches
  const rounds = maxToolRounds(env.env)
  /** The text of the round in progress (kept as a partial reply when the turn fails). */
  let roundText = ''
  const failed = (error: TurnErrorInfo): TurnOutcome => {
    if (roundText !== '') added.push({role: 'assistant', content: roundText})
    roundText = ''
    return {kind: 'error', text, messages: added, error, ...meta}
  }
  // From here on nothing throws: every failure is the `error` outcome, with the text so far.
  try {
    if (tools) {
      for (const u of tools.unavailable) {
        await sink.toolResult?.({callId: `unavailable:${u.server}`, ok: false, summary: summarize(`${u.message}${u.hint ? ` (hint: ${u.hint})` : ''}`), durationMs: 0})
      }
    }
    for (let round = 1; ; round++) {
      roundText = ''
      const calls: ToolCall[] = []
      let finish: {finishReason: string; usage: Usage} | undefined
      const input = {target, system, messages, signal, timeoutMs: env.timeoutMs ?? turnTimeoutMs(env.env), ...(tools && tools.specs.length > 0 ? {tools: tools.specs} : {})}
      stream: for await (const events of stream(input)) {
        for (const event of events) {
          if (event.type === 'delta') {
            if (event.text === '') continue
            text += event.text
            roundText += event.text
            // A sink that returns nothing costs no extra await per delta.
            const sent = sink.delta(event.text)
            if (sent) await sent
          } else if (event.type === 'tool_call') {
            // `signature`: opaque provider state sent back with the call (Gemini's thoughtSignature).
            calls.push({callId: event.callId, name: event.name, arguments: event.arguments, ...(event.signature ? {signature: event.signature} : {})})
          } else {
            finish = {finishReason: event.finishReason, usage: event.usage}
            break stream
          }
        }
      }
      // The provider layer always ends with `done` or throws; be safe anyway.
      if (!finish) return failed({code: 'PROVIDER_ERROR', message: `${target.id}: the stream ended without a final event`})
      usage.inputTokens += finish.usage.inputTokens
      usage.outputTokens += finish.usage.outputTokens
      if (calls.length === 0 || !tools) {
        if (roundText !== '') added.push({role: 'assistant', content: roundText})
        return {kind: 'done', text, messages: added, finishReason: finish.finishReason, usage, ...meta}
      }
      const received = performance.now()
      let toolMs = 0
      added.push({role: 'assistant', content: roundText, toolCalls: calls})
      roundText = ''
      for (const call of calls) {
        const where = tools.lookup(call.name)
        await sink.toolCall({callId: call.callId, name: call.name, server: where?.server ?? '', tool: where?.tool ?? '', arguments: call.arguments})
      }
      const results = await mapLimited(calls, TOOL_CONCURRENCY, async (call) => {
        const t0 = performance.now()
        const outcome = await tools.run(call, {approvalRequired: (info) => sink.approvalRequired?.(info)}, signal)
        const durationMs = Math.round(performance.now() - t0)
        // The tool's own time (and a wait for the user's decision) is not the gateway's.
        toolMs += outcome.toolMs
        await sink.toolResult?.({callId: call.callId, ok: outcome.ok, summary: outcome.summary, durationMs, ...(outcome.skipped ? {skipped: outcome.skipped} : {})})
        return outcome
      })
      for (const [i, call] of calls.entries()) {
        const r = results[i]!
        added.push({role: 'tool', callId: call.callId, name: call.name, content: r.content, ...(r.ok ? {} : {isError: true})})
      }
      if (signal.aborted) return failed(abortInfo(signal))
      if (round >= rounds) {
        return failed({
          code: 'TOOL_LOOP_LIMIT',
          message: `the agent called tools ${rounds} rounds in a row without answering`,
          hint: 'ask for something smaller, or raise LOBU_MAX_TOOL_ROUNDS on the gateway',
        })
      }
      messages = [...messages, ...added.slice(-(calls.length + 1))]
      sink.roundOverhead?.(performance.now() - received - toolMs)
    }
  } catch (err) {
    if (err instanceof ProviderError) return failed(providerErrorInfo(err, signal, agent.agentId))
    if (signal.aborted) return failed(abortInfo(signal))
    return failed({code: 'INTERNAL', message: `the turn failed: ${err instanceof Error ? err.message : String(err)}`})
  }
}

/**
 * One agent turn, independent of where its events go (a session's SSE log, or the
 * OpenAI-compatible endpoint): choose the provider and key, build the prompt, stream the
 * provider's answer into a sink, and report exactly one outcome.
 */
import type {EgressPolicy} from '../egress/index.js'
import {historyBudget, trimHistory} from '../providers/history.js'
import {DEFAULT_TIMEOUT_MS, ProviderError, streamTurnBatches, type ChatMessage, type Usage} from '../providers/index.js'
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
}

export interface TurnSink {
  turn(info: {provider: string; model: string}): void | Promise<void>
  delta(text: string): void | Promise<void>
  toolCall(call: {callId: string; name: string; arguments: string}): void | Promise<void>
}

export interface TurnErrorInfo {
  code: string
  message: string
  hint?: string
  settingsUrl?: string
  /** The provider's HTTP status (PROVIDER_ERROR / PROVIDER_AUTH). */
  status?: number
}

export type TurnOutcome =
  | {kind: 'done'; text: string; finishReason: string; usage: Usage; provider: string; model: string}
  | {kind: 'error'; text: string; error: TurnErrorInfo; provider?: string; model?: string}

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

/**
 * Run one turn. Never throws for provider or abort problems: they are the `error` outcome. It
 * can only throw before the provider is called (reading credentials, building the prompt, the
 * sink's turn()), so a caller that catches has no partial reply to keep.
 */
export async function runAgentTurn(env: TurnEnvironment, req: TurnRequest, sink: TurnSink): Promise<TurnOutcome> {
  const {agent, signal} = req
  if (signal.aborted) return {kind: 'error', text: '', error: abortInfo(signal)}

  const chosen = await resolveCredentials(
    {store: env.store, env: env.env, installKey: env.installKey, systemProviders: env.systemProviders, grants: env.grants, prefetched: req.prefetched, egress: env.egress},
    agent,
    req.userId,
  )
  if (!chosen.ok) {
    const details = noModelConfigured(agent.agentId, chosen.skipped, env.url)
    return {kind: 'error', text: '', error: details}
  }
  const {target} = chosen.provider
  const system = [systemPrompt(agent.spec), req.extraSystem?.trim() ?? ''].filter(Boolean).join('\n\n')
  const conversation = normalizeConversation([...req.history, {role: 'user', content: req.prompt}])
  const messages = trimHistory(conversation, historyBudget(target.model, system))

  let text = ''
  const meta = {provider: target.id, model: target.model}
  const started = sink.turn(meta)
  if (started) await started
  // From here on nothing throws: every failure is the `error` outcome, with the text so far.
  try {
    for await (const events of streamTurnBatches({target, system, messages, signal, timeoutMs: env.timeoutMs ?? turnTimeoutMs(env.env)})) {
      for (const event of events) {
        if (event.type === 'delta') {
          if (event.text === '') continue
          text += event.text
          // A sink that returns nothing costs no extra await per delta.
          const sent = sink.delta(event.text)
          if (sent) await sent
        } else if (event.type === 'tool_call') {
          await sink.toolCall({callId: event.callId, name: event.name, arguments: event.arguments})
        } else {
          return {kind: 'done', text, finishReason: event.finishReason, usage: event.usage, ...meta}
        }
      }
    }
    // The provider layer always ends with `done` or throws; be safe anyway.
    return {kind: 'error', text, error: {code: 'PROVIDER_ERROR', message: `${target.id}: the stream ended without a final event`}, ...meta}
  } catch (err) {
    if (err instanceof ProviderError) return {kind: 'error', text, error: providerErrorInfo(err, signal, agent.agentId), ...meta}
    if (signal.aborted) return {kind: 'error', text, error: abortInfo(signal), ...meta}
    return {kind: 'error', text, error: {code: 'INTERNAL', message: `the turn failed: ${err instanceof Error ? err.message : String(err)}`}, ...meta}
  }
}

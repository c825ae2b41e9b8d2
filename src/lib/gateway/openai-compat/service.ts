/**
 * The turns of the OpenAI-compatible endpoint: the caller's agents as models, and one agent
 * turn per request over the history the request carries (nothing is stored). The service keeps
 * the running turns so that shutdown cancels them and waits (at most 5 s) for their end; the
 * routes (routes.ts) turn the sink's events into OpenAI's chunks or one completion object.
 */
import type {EgressPolicy} from '../egress/index.js'
import type {AgentRow, ProviderSpec, Store} from '../store/types.js'
import {TurnAbort, runAgentTurn, turnTimeoutMs, type TurnOutcome, type TurnSink} from '../sessions/turn.js'
import type {ToolService} from '../tools/service.js'
import type {Conversation} from './format.js'
import {answeringAgent, answeringAgents} from './models.js'

export interface CompletionServiceOptions {
  store: Store
  env: NodeJS.ProcessEnv
  installKey: Buffer
  systemProviders: readonly ProviderSpec[]
  url: string
  /** The guard of tenant-set provider URLs. */
  egress: EgressPolicy
  /** Idle timeout of provider calls (default: $LOBU_PROVIDER_TIMEOUT_MS, else 120 s). */
  timeoutMs?: number
  /** The agents' MCP tools; without it no tool is offered. */
  tools?: ToolService
}

export interface CompletionRequest {
  agent: AgentRow
  userId: string
  conversation: Conversation
}

/** A started turn: its one outcome, and how to cancel it (the client left). */
export interface RunningCompletion {
  outcome: Promise<TurnOutcome>
  abort(reason: TurnAbort): void
}

/** How long shutdown waits for cancelled turns to end. */
const SHUTDOWN_WAIT_MS = 5_000

export class CompletionService {
  readonly #options: CompletionServiceOptions
  readonly #timeoutMs: number
  readonly #running = new Set<{controller: AbortController; done: Promise<unknown>}>()

  constructor(options: CompletionServiceOptions) {
    this.#options = options
    this.#timeoutMs = options.timeoutMs ?? turnTimeoutMs(options.env)
  }

  /** The org's agents that can answer the user (models.ts), which the endpoint lists as models. */
  models(orgId: string, userId: string): Promise<AgentRow[]> {
    return answeringAgents(this.#options, orgId, userId)
  }

  /** One of those, by id (`GET /v1/models/{id}`). */
  model(orgId: string, userId: string, id: string): Promise<AgentRow | undefined> {
    return answeringAgent(this.#options, orgId, userId, id)
  }

  /** The agent a request names as its model, if the org has it. */
  agent(orgId: string, model: string): Promise<AgentRow | undefined> {
    return this.#options.store.agents.get(orgId, model)
  }

  /** Start one turn; its events go to `sink`. */
  start(request: CompletionRequest, sink: TurnSink): RunningCompletion {
    const {store, env, installKey, systemProviders, url, egress, tools} = this.#options
    const {agent, userId, conversation} = request
    const controller = new AbortController()
    const outcome = runAgentTurn(
      {store, env, installKey, systemProviders, url, egress, timeoutMs: this.#timeoutMs},
      {
        agent,
        userId,
        history: conversation.history,
        prompt: conversation.prompt,
        extraSystem: conversation.system,
        signal: controller.signal,
        // Nobody can be asked here: read-only, pre-approved and granted tools run, the rest are denied.
        ...(tools ? {tools: () => tools.forTurn({orgId: agent.orgId, userId, agent})} : {}),
      },
      sink,
    )
    const entry = {controller, done: outcome}
    this.#running.add(entry)
    void outcome.finally(() => this.#running.delete(entry))
    return {outcome, abort: (reason) => controller.abort(reason)}
  }

  /** Cancel the running turns and wait (at most SHUTDOWN_WAIT_MS) for them to end. */
  async shutdown(): Promise<void> {
    for (const turn of this.#running) turn.controller.abort(new TurnAbort('SHUTDOWN', 'the gateway is shutting down'))
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.allSettled([...this.#running].map((t) => t.done)), new Promise((r) => (timer = setTimeout(r, SHUTDOWN_WAIT_MS)))])
    clearTimeout(timer)
  }
}

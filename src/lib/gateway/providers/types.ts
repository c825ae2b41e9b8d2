/**
 * The provider interface: one turn in (system prompt + history), a stream of events out.
 * Each wire dialect (openai.ts, anthropic.ts, gemini.ts) implements `DialectAdapter`;
 * index.ts drives the HTTP request, retries, timeouts and SSE parsing for all of them.
 */
import type {EventSourceMessage} from 'eventsource-parser'
import type {Dialect} from '../../contract/providers.js'
import type {EgressPolicy} from '../egress/index.js'

export type {Dialect} from '../../contract/providers.js'

/** A tool call the model made, as stored in the history and sent back to the provider. */
export interface ToolCall {
  /** The provider's id for the call (or one made up for providers that send none, e.g. Gemini). */
  callId: string
  name: string
  /** The arguments as JSON text, exactly as the model sent them (possibly malformed). */
  arguments: string
  /**
   * Opaque provider state to send back with the call: Gemini's `thoughtSignature` (Gemini 3
   * refuses a history whose function calls lost theirs). Absent for the other dialects.
   */
  signature?: string
}

/**
 * One message of a conversation. An assistant message with `toolCalls` is followed by one `tool`
 * message per call (its result, in call order); providers/history.ts keeps that pairing when
 * it normalises and trims a history.
 */
export type ChatMessage =
  | {role: 'user'; content: string}
  | {role: 'assistant'; content: string; toolCalls?: ToolCall[]}
  /**
   * A call's result. `isError` is sent as the dialect's flag (Anthropic `is_error`, Gemini's
   * `error` response); OpenAI has none, so its content goes as `Error: <content>`.
   */
  | {role: 'tool'; callId: string; name: string; content: string; isError?: boolean}

export interface ProviderTarget {
  /** Provider id from the catalog or lobu.toml (`openai`, `openrouter`, `my-proxy`, …). */
  id: string
  dialect: Dialect
  /** Base URL without trailing slash, e.g. `https://api.openai.com/v1`. */
  baseUrl: string
  /** Sent to the provider unchanged (`anthropic/claude-sonnet-4` stays as it is). */
  model: string
  apiKey?: string
  /**
   * Set when the base URL is a tenant's choice on a team gateway: the request goes through this
   * guard (every resolved address checked at connect time), and errors name the host without
   * repeating anything the far side sent (docs/SECURITY.md, "Egress").
   */
  egress?: EgressPolicy
}

/** A tool offered to the model (JSON Schema parameters), e.g. from an MCP server. */
export interface ToolSpec {
  name: string
  description?: string
  parameters: Record<string, unknown>
}

export interface TurnInput {
  target: ProviderTarget
  system: string
  messages: ChatMessage[]
  signal: AbortSignal
  maxOutputTokens?: number
  /** Idle timeout: the longest wait for the response headers or the next chunk. */
  timeoutMs?: number
  tools?: ToolSpec[]
}

export interface Usage {
  inputTokens: number
  outputTokens: number
}

export type ProviderEvent =
  | {type: 'delta'; text: string}
  /** A complete call (all argument fragments joined); `signature` as in ToolCall. */
  | {type: 'tool_call'; callId: string; name: string; arguments: string; signature?: string}
  /**
   * finishReason is normalised across dialects: `stop`, `length`, `tool_calls`,
   * `content_filter`; anything else is passed through in lower case.
   */
  | {type: 'done'; finishReason: string; usage: Usage}

export type ProviderErrorCode = 'PROVIDER_AUTH' | 'PROVIDER_ERROR' | 'TIMEOUT' | 'ABORTED'

export interface ProviderErrorOptions {
  status?: number
  retryable?: boolean
  provider?: string
  cause?: unknown
}

export class ProviderError extends Error {
  readonly code: ProviderErrorCode
  /** The provider's HTTP status (or the status its in-stream error stands for). */
  readonly status?: number
  /** Whether trying again later may succeed (rate limits, 5xx, timeouts, broken streams). */
  readonly retryable: boolean
  readonly provider?: string

  constructor(code: ProviderErrorCode, message: string, options: ProviderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'ProviderError'
    this.code = code
    this.status = options.status
    this.provider = options.provider
    this.retryable = options.retryable ?? (code === 'TIMEOUT' || (code === 'PROVIDER_ERROR' && isRetryableStatus(options.status)))
  }
}

/** 429 and 5xx (Anthropic's 529 included) are worth retrying; nothing else is. */
export function isRetryableStatus(status: number | undefined): boolean {
  return status !== undefined && (status === 429 || (status >= 500 && status <= 599))
}

// ---------- what a dialect implements (internal to the provider layer) ----------

export interface HttpRequestSpec {
  url: string
  headers: Record<string, string>
  body: string
}

/** What a dialect reads from an error response body. */
export interface ErrorInfo {
  /** The provider's own message, if the body had one. */
  message?: string
  /** The body says the credentials are bad even though the status is not 401/403 (Gemini: 400 API_KEY_INVALID). */
  auth?: boolean
  /** A retry delay carried in the body (Gemini's RetryInfo). */
  retryAfterMs?: number
}

/** Turns the SSE events of one response into provider events. */
export interface StreamDecoder {
  /** One SSE event in, zero or more provider events out. Throws ProviderError for an in-stream error. */
  push(event: EventSourceMessage): ProviderEvent[]
  /** True once the terminal marker has been seen and `done` was returned: stop reading. */
  readonly complete: boolean
  /** The body ended: the trailing events (e.g. `done`), or a ProviderError when the terminal marker is missing. */
  end(): ProviderEvent[]
}

export interface DialectAdapter {
  buildRequest(input: TurnInput): HttpRequestSpec
  parseError(status: number, bodyText: string): ErrorInfo
  createDecoder(target: ProviderTarget): StreamDecoder
}

/**
 * Building ProviderErrors: status classification, message extraction and key redaction.
 * A provider's error message can echo (part of) the key, e.g. OpenAI's
 * "Incorrect API key provided: sk-abc1****wxyz": every message goes through `redact`.
 */
import {ProviderError, isRetryableStatus, type ProviderTarget} from './types.js'

const REDACTED = '[redacted]'
const MAX_MESSAGE_CHARS = 300

/** Removes the key, any substring of it (8+ chars) and masked key fragments (`sk-ab****wxyz`). */
export function redact(text: string, apiKey: string | undefined): string {
  let out = text
  if (apiKey && apiKey.length >= 4) out = out.split(apiKey).join(REDACTED)
  out = out.replace(/[^\s"'`,;()[\]{}<>]*\*{4,}[^\s"'`,;()[\]{}<>.]*/g, REDACTED)
  if (apiKey && apiKey.length >= 8) {
    out = out.replace(/[A-Za-z0-9_\-.+/=]{8,}/g, (token) => {
      const bare = token.replace(/\.+$/, '')
      return bare.length >= 8 && apiKey.includes(bare) ? REDACTED + token.slice(bare.length) : token
    })
  }
  return out
}

/** One line, bounded length. */
export function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > MAX_MESSAGE_CHARS ? flat.slice(0, MAX_MESSAGE_CHARS - 1) + '…' : flat
}

/** The most likely human message in an error body of any of the dialects (or an OpenAI-compatible server). */
export function extractMessage(body: unknown): string | undefined {
  if (Array.isArray(body)) return body.length > 0 ? extractMessage(body[0]) : undefined
  if (typeof body === 'string') return body || undefined
  if (!body || typeof body !== 'object') return undefined
  const record = body as Record<string, unknown>
  if (record.error !== undefined) {
    const nested = extractMessage(record.error)
    if (nested) return nested
  }
  for (const key of ['message', 'detail', 'error_message', 'msg']) {
    const value = record[key]
    if (typeof value === 'string' && value) return value
  }
  return undefined
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * `: <the provider's message>` for an error, or nothing when the destination is guarded (a
 * tenant-set URL on a team gateway): its answer is never repeated to the caller, so a URL
 * pointed at an internal service cannot read it back.
 */
export function farSideDetail(target: ProviderTarget, providerMessage: string | undefined): string {
  if (!providerMessage || target.egress) return ''
  return `: ${oneLine(redact(providerMessage, target.apiKey))}`
}

/** The error for an HTTP error status (or a non-stream 200) from the provider. */
export function statusError(target: ProviderTarget, status: number, providerMessage: string | undefined, auth = false): ProviderError {
  const detail = farSideDetail(target, providerMessage)
  if (auth || status === 401 || status === 403) {
    return new ProviderError('PROVIDER_AUTH', `${target.id} rejected the credentials (HTTP ${status})${detail}`, {
      status,
      retryable: false,
      provider: target.id,
    })
  }
  const from = target.egress ? ` from ${hostOf(target.baseUrl)}` : ''
  return new ProviderError('PROVIDER_ERROR', `${target.id} returned HTTP ${status}${from}${detail}`, {
    status,
    retryable: isRetryableStatus(status),
    provider: target.id,
  })
}

/** An error the provider reported inside a 200 stream (Anthropic `error` event, OpenAI/Gemini `{"error": …}` chunk). */
export function streamError(target: ProviderTarget, status: number | undefined, providerMessage: string | undefined): ProviderError {
  const detail = farSideDetail(target, providerMessage)
  const statusText = status === undefined ? '' : ` (${status})`
  return new ProviderError('PROVIDER_ERROR', `${target.id} reported an error mid-stream${statusText}${detail}`, {
    status,
    retryable: isRetryableStatus(status),
    provider: target.id,
  })
}

/** The host of a URL (for messages), or the text itself. */
function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).host : url
}

export function unexpectedEnd(target: ProviderTarget, reason?: string): ProviderError {
  const suffix = reason ? ` (${oneLine(redact(reason, target.apiKey))})` : ''
  return new ProviderError('PROVIDER_ERROR', `${target.id}: stream ended unexpectedly${suffix}`, {
    retryable: true,
    provider: target.id,
  })
}

export function badChunk(target: ProviderTarget, what: string): ProviderError {
  return new ProviderError('PROVIDER_ERROR', `${target.id}: unreadable stream chunk (${what})`, {
    retryable: false,
    provider: target.id,
  })
}

/** JSON.parse of one SSE data field, or a PROVIDER_ERROR naming the dialect's problem. */
export function parseChunk(target: ProviderTarget, data: string): Record<string, unknown> {
  const parsed = parseJson(data)
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badChunk(target, 'not a JSON object')
  return parsed as Record<string, unknown>
}

export function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0
}

/**
 * What a tool call gives back to the model: text only. Tool output is untrusted input
 * (docs/SECURITY.md): images, audio and resources become one-line descriptions, the whole is
 * cut at MAX_RESULT_BYTES with a note, and the short `summary` of the `tool_result` event holds
 * no control character (no terminal escape reaches a client through it).
 */

/** Results above this many bytes (UTF-8) are cut. */
export const MAX_RESULT_BYTES = 100 * 1024
/** Longest `summary` of a `tool_result` event. */
export const MAX_SUMMARY_CHARS = 500

export interface ToolOutcome {
  ok: boolean
  /** What the model is told. */
  content: string
  /** One line for the `tool_result` event (≤ 500 chars, no control characters). */
  summary: string
  skipped?: 'dry_run' | 'denied'
}

interface ContentBlock {
  type?: unknown
  text?: unknown
  mimeType?: unknown
  data?: unknown
  uri?: unknown
  name?: unknown
  resource?: {uri?: unknown; mimeType?: unknown; text?: unknown}
}

function size(data: unknown): string {
  if (typeof data !== 'string') return ''
  const bytes = Math.floor((data.length * 3) / 4)
  return bytes >= 1024 ? `, ${Math.round(bytes / 1024)} kB` : `, ${bytes} B`
}

/** One content block of an MCP tool result as text. */
function blockText(block: ContentBlock): string {
  switch (block.type) {
    case 'text':
      return typeof block.text === 'string' ? block.text : ''
    case 'image':
    case 'audio':
      return `[${block.type} ${typeof block.mimeType === 'string' ? block.mimeType : 'of unknown type'}${size(block.data)} omitted]`
    case 'resource': {
      const r = block.resource ?? {}
      return `[resource ${typeof r.uri === 'string' ? r.uri : '(no uri)'}${typeof r.mimeType === 'string' ? ` (${r.mimeType})` : ''} omitted]`
    }
    case 'resource_link':
      return `[resource link ${typeof block.uri === 'string' ? block.uri : '(no uri)'}${typeof block.name === 'string' ? ` "${block.name}"` : ''}]`
    default:
      return `[${typeof block.type === 'string' ? block.type : 'unknown'} content omitted]`
  }
}

/** Cut text to MAX_RESULT_BYTES of UTF-8 (on a character boundary) with a note saying so. */
export function capResult(text: string, max = MAX_RESULT_BYTES): string {
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes <= max) return text
  let cut = Buffer.from(text, 'utf8').subarray(0, max).toString('utf8')
  // A cut through a multi-byte character leaves U+FFFD at the end: drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1)
  return `${cut}\n[output cut: ${bytes} bytes, the first ${max} shown]`
}

/** A one-line summary: control characters (escapes included) replaced, whitespace collapsed, ≤ 500 chars. */
export function summarize(text: string): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/\s+/g, ' ').trim()
  return line.length <= MAX_SUMMARY_CHARS ? line : `${line.slice(0, MAX_SUMMARY_CHARS - 1)}…`
}

/** An MCP `tools/call` result as what the model and the client get. */
export function fromCallResult(result: {content?: unknown; isError?: unknown; structuredContent?: unknown; toolResult?: unknown}): ToolOutcome {
  let text: string
  if (Array.isArray(result.content) && result.content.length > 0) {
    text = (result.content as ContentBlock[]).map(blockText).join('\n')
  } else if (result.structuredContent !== undefined) {
    text = JSON.stringify(result.structuredContent)
  } else if (result.toolResult !== undefined) {
    text = typeof result.toolResult === 'string' ? result.toolResult : JSON.stringify(result.toolResult)
  } else {
    text = ''
  }
  const content = capResult(text)
  const ok = result.isError !== true
  return {ok, content, summary: summarize(content) || (ok ? '(no output)' : 'error')}
}

/** An error result (the tool failed, timed out, was refused or could not be reached). */
export function errorOutcome(message: string, skipped?: 'dry_run' | 'denied'): ToolOutcome {
  const content = capResult(message)
  return {ok: false, content, summary: summarize(content), ...(skipped ? {skipped} : {})}
}

/**
 * The project's `.env`: `KEY=VALUE` lines, an optional `export ` prefix, `#` comments,
 * "double-quoted" values (with \n, \t, \", \\ escapes, may span lines), 'single-quoted' values
 * (literal, may span lines), and unquoted values (trimmed, ` #…` comment cut off).
 * Lines that are not assignments are ignored.
 */
import {readFile} from 'node:fs/promises'
import path from 'node:path'

const KEY = /^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*/
const ESCAPES: Record<string, string> = {'"': '"', '\\': '\\', n: '\n', r: '\r', t: '\t'}

export function parseDotEnv(source: string): Record<string, string> {
  const out: Record<string, string> = {}
  const text = source.replace(/^\uFEFF/, '').replaceAll('\r\n', '\n')
  let i = 0
  while (i < text.length) {
    let end = text.indexOf('\n', i)
    if (end === -1) end = text.length
    const line = text.slice(i, end).replace(/^[ \t]+/, '')
    const lineStart = end - line.length
    const match = KEY.exec(line)
    if (!match) {
      i = end + 1
      continue
    }
    const name = match[1]!
    let j = lineStart + match[0].length
    const quote = text[j]
    if (quote === '"' || quote === "'") {
      let value = ''
      j++
      while (j < text.length && text[j] !== quote) {
        if (quote === '"' && text[j] === '\\' && j + 1 < text.length) {
          const e = text[j + 1]!
          value += ESCAPES[e] ?? `\\${e}`
          j += 2
        } else {
          value += text[j]
          j++
        }
      }
      if (j >= text.length) {
        // Unterminated quote: take the rest of the line as written.
        out[name] = text.slice(lineStart + match[0].length, end).trim()
        i = end + 1
        continue
      }
      out[name] = value
      const after = text.indexOf('\n', j)
      i = after === -1 ? text.length : after + 1
      continue
    }
    const raw = text.slice(j, end)
    out[name] = (raw.startsWith('#') ? '' : raw.replace(/[ \t]+#.*$/, '')).trim()
    i = end + 1
  }
  return out
}

/** Reads `<root>/.env`; an absent file is an empty map. */
export async function loadDotEnv(root: string): Promise<Record<string, string>> {
  let source: string
  try {
    source = await readFile(path.join(root, '.env'), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw error
  }
  return parseDotEnv(source)
}

/** The .env values under the process environment: a process variable wins when it is non-empty. */
export function mergeEnv(dotenv: Record<string, string>, processEnv: NodeJS.ProcessEnv): Record<string, string> {
  const merged: Record<string, string> = {...dotenv}
  for (const [name, value] of Object.entries(processEnv)) {
    if (value === undefined) continue
    if (value !== '' || !(name in merged)) merged[name] = value
  }
  return merged
}

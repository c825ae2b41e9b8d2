/**
 * Pure helpers for the files `lobu init` merges into instead of overwriting:
 * `.gitignore` (append the missing entries), `.env` and `.env.example` (one variable each).
 */

/** `/.lobu/*`, `.lobu/`, `.lobu` all name the same entry. */
function normalizeIgnoreEntry(line: string): string {
  return line.trim().replace(/^\//, '').replace(/\/\*?$/, '')
}

/** The entries of a .gitignore text: non-empty lines that are not comments. */
export function ignoreEntries(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}

export interface MergeResult {
  content: string
  /** What was added or replaced; empty when the content is unchanged. */
  changed: string[]
}

/**
 * Append to `existing` the entries of `template` it does not have yet, under the template's
 * first comment line as a header. User lines are never removed or reordered.
 */
export function mergeGitignore(existing: string, template: string): MergeResult {
  const have = new Set(ignoreEntries(existing).map(normalizeIgnoreEntry))
  const missing = ignoreEntries(template).filter((e) => !have.has(normalizeIgnoreEntry(e)))
  if (missing.length === 0) return {content: existing, changed: []}
  const header = template.split(/\r?\n/).find((l) => l.trim().startsWith('#'))
  let content = existing
  if (content !== '' && !content.endsWith('\n')) content += '\n'
  if (content !== '') content += '\n'
  if (header) content += header.trim() + '\n'
  content += missing.join('\n') + '\n'
  return {content, changed: missing}
}

function escapeRegExp(s: string): string {
  return s.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** A line assigning `name` in a dotenv file, also `export NAME=` and (when `commented`) `# NAME=`. */
function assignmentRe(name: string, commented: boolean): RegExp {
  return new RegExp(`^\\s*${commented ? '(#\\s*)?' : ''}(export\\s+)?${escapeRegExp(name)}\\s*=`)
}

/** The value of `name` in a dotenv text, if it is assigned there (quotes removed). */
export function dotenvValue(text: string, name: string): string | undefined {
  const re = assignmentRe(name, false)
  const line = text.split(/\r?\n/).find((l) => re.test(l))
  if (line === undefined) return undefined
  const raw = line.slice(line.indexOf('=') + 1).trim()
  const quoted = /^(["'])(.*)\1$/.exec(raw)
  return quoted ? quoted[2] : raw.replace(/\s+#.*$/, '')
}

/** `NAME=value`, double-quoted (with `\\`, `"` and newlines escaped) unless the value is plain. */
export function dotenvLine(name: string, value: string): string {
  if (/^[A-Za-z0-9_\-./+=:@,~]*$/.test(value)) return `${name}=${value}`
  const escaped = value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n').replaceAll('\r', '\\r')
  return `${name}="${escaped}"`
}

/**
 * Make `existing` (a dotenv text) carry `line` for variable `name`:
 * append it when the variable is not there; replace the existing assignment only with `replace`.
 * With `commented`, a commented-out `# NAME=` counts as present (for .env.example).
 */
export function mergeDotenv(existing: string, name: string, line: string, opts: {replace?: boolean; commented?: boolean} = {}): MergeResult {
  const re = assignmentRe(name, Boolean(opts.commented))
  const lines = existing.split('\n')
  const index = lines.findIndex((l) => re.test(l.replace(/\r$/, '')))
  if (index === -1) {
    let content = existing
    if (content !== '' && !content.endsWith('\n')) content += '\n'
    return {content: content + line + '\n', changed: [name]}
  }
  if (!opts.replace || lines[index]!.replace(/\r$/, '') === line) return {content: existing, changed: []}
  lines[index] = line
  return {content: lines.join('\n'), changed: [name]}
}

import {UsageError} from '../core/errors.js'

/** One problem found in lobu.toml, with its place in the source. */
export interface ConfigIssue {
  /** The file as the user would name it: relative to the working directory (e.g. `lobu.toml`). */
  file: string
  /** 1-based line of the key (or of the value, where that is more precise). */
  line: number
  /** 1-based column. */
  col: number
  /** Dotted key path, e.g. `agents.support.providers[0].model`; empty for the whole file. */
  path: string
  message: string
  severity: 'error' | 'warning'
}

/** A segment of a key path: a table key or an array index. */
export type PathSegment = string | number

const BARE_KEY = /^[A-Za-z0-9_-]+$/

/** `['agents', 'support', 'providers', 0, 'model']` → `agents.support.providers[0].model`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') {
      out += `[${segment}]`
    } else {
      const key = BARE_KEY.test(segment) ? segment : JSON.stringify(segment)
      out += out === '' ? key : `.${key}`
    }
  }
  return out
}

/** `lobu.toml:14:7  agents.support.providers[0].model  expected a string, got an integer` */
export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`
  return issue.path ? `${where}  ${issue.path}  ${issue.message}` : `${where}  ${issue.message}`
}

/** A warning line for stderr: `Warning: lobu.toml:3:1  memory  not supported yet: ignored`. */
export function formatWarning(issue: ConfigIssue): string {
  return `Warning: ${formatIssue(issue)}`
}

/** Sort by position (stable), errors and warnings interleaved as they appear in the file. */
export function sortIssues<T extends ConfigIssue>(issues: T[]): T[] {
  return issues
    .map((issue, index) => ({index, issue}))
    .sort((a, b) => a.issue.line - b.issue.line || a.issue.col - b.issue.col || a.index - b.index)
    .map(({issue}) => issue)
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/**
 * lobu.toml is invalid (exit 2). `issues` holds every error and warning of the file; `details`
 * (printed under the message) are the formatted errors.
 */
export class ConfigError extends UsageError {
  readonly file: string
  readonly issues: ConfigIssue[]

  constructor(file: string, issues: ConfigIssue[], options: {syntax?: boolean} = {}) {
    const errors = issues.filter((i) => i.severity === 'error')
    const message = options.syntax ? `${file} is not valid TOML` : `${file} has ${plural(errors.length, 'error')}`
    super(message, {
      code: 'CONFIG_INVALID',
      details: errors.map((i) => formatIssue(i)),
      hint: options.syntax
        ? `Fix the syntax at the position shown, then run \`lobu validate\``
        : `Fix the ${errors.length === 1 ? 'error' : 'errors'} above, then run \`lobu validate\``,
    })
    this.file = file
    this.issues = issues
  }

  get errors(): ConfigIssue[] {
    return this.issues.filter((i) => i.severity === 'error')
  }

  get warnings(): ConfigIssue[] {
    return this.issues.filter((i) => i.severity === 'warning')
  }
}

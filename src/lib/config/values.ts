/** Small helpers over parsed TOML values. */
import type {ValueKind} from './locate.js'

export function isTable(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

const ARTICLE: Record<ValueKind, string> = {
  array: 'an array',
  boolean: 'a boolean',
  datetime: 'a date-time',
  float: 'a float',
  integer: 'an integer',
  string: 'a string',
  table: 'a table',
}

/** "a string", "an integer", "a table" … — for "expected X, got Y" messages. */
export function describeValue(value: unknown, kindInSource?: ValueKind): string {
  if (kindInSource) return ARTICLE[kindInSource]
  if (value === undefined) return 'nothing'
  if (typeof value === 'string') return ARTICLE.string
  if (typeof value === 'bigint') return ARTICLE.integer
  if (typeof value === 'number') return Number.isInteger(value) ? ARTICLE.integer : ARTICLE.float
  if (typeof value === 'boolean') return ARTICLE.boolean
  if (Array.isArray(value)) return ARTICLE.array
  if (value instanceof Date) return ARTICLE.datetime
  if (isTable(value)) return ARTICLE.table
  return typeof value
}

/** The value at a key path, or undefined when the path does not exist. */
export function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let current: unknown = root
  for (const segment of path) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return undefined
      current = current[segment]
    } else {
      if (!isTable(current)) return undefined
      current = Object.hasOwn(current, segment) ? current[segment] : undefined
    }
  }
  return current
}

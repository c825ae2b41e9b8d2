/** Helpers that turn snake_case rows into the camelCase types of types.ts. */

export type Raw = Record<string, unknown>

export function toDate(value: unknown): Date {
  if (value instanceof Date) return value
  if (typeof value === 'string' || typeof value === 'number') return new Date(value)
  throw new TypeError(`expected a timestamp, got ${typeof value}`)
}

export function toDateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : toDate(value)
}

export function toStringOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value)
}

/** jsonb comes back parsed from both drivers; tolerate a string just in case. */
export function toJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T
}

export function first<T>(rows: T[]): T | undefined {
  return rows[0]
}

/** Small renderers shared by the token, whoami and context commands. */

const UNITS: Array<[number, string]> = [
  [365 * 24 * 3600, 'year'],
  [30 * 24 * 3600, 'month'],
  [24 * 3600, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
]

/** "in 3 days" / "2 hours ago" / "now". */
export function relativeTime(iso: string, now: Date = new Date()): string {
  const then = Date.parse(iso)
  if (Number.isNaN(then)) return iso
  const diff = Math.round((then - now.getTime()) / 1000)
  const abs = Math.abs(diff)
  for (const [size, unit] of UNITS) {
    if (abs >= size) {
      const n = Math.floor(abs / size)
      const text = `${n} ${unit}${n === 1 ? '' : 's'}`
      return diff >= 0 ? `in ${text}` : `${text} ago`
    }
  }
  return 'now'
}

/** A token expiry for humans: "never", "2025-06-01 (in 89 days)", "2025-01-01 (expired 3 days ago)". */
export function formatExpiry(expiresAt: string | null | undefined, now: Date = new Date()): string {
  if (!expiresAt) return 'never'
  const when = relativeTime(expiresAt, now)
  const date = expiresAt.slice(0, 10)
  return Date.parse(expiresAt) <= now.getTime() ? `${date} (expired ${when})` : `${date} (${when})`
}

/** A timestamp column: the date, or "-" when absent. */
export function formatDate(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 10) : '-'
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n')
}

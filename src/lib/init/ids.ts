/**
 * Naming rules of `lobu init`: the ids it proposes for agents and projects, within the patterns
 * of src/lib/contract/ids.ts. Pure functions, no I/O.
 */
import {randomBytes} from 'node:crypto'

const MAX_ID_LENGTH = 63
/** Length of `-<6 hex>` appended to a project name. */
const PROJECT_SUFFIX_LENGTH = 7

/** Used when a name has no usable letter or digit at all (e.g. `___`). */
export const FALLBACK_AGENT_ID = 'agent'
export const FALLBACK_PROJECT_NAME = 'project'

/**
 * Lower-case `input`, fold accents (é → e), turn every run of other characters into one `-`,
 * trim hyphens at both ends and cut to `max` characters. May return an empty string.
 */
export function slugify(input: string, max = MAX_ID_LENGTH): string {
  const folded = input
    .normalize('NFKD')
    .replaceAll(/[\u0300-\u036f]/g, '')
    .toLowerCase()
  const slug = folded.replaceAll(/[^a-z0-9]+/g, '-').replaceAll(/^-+|-+$/g, '')
  return slug.slice(0, max).replace(/-+$/, '')
}

/** The default agent id for a project directory named `dirName`. Always valid. */
export function defaultAgentId(dirName: string): string {
  return slugify(dirName) || FALLBACK_AGENT_ID
}

/** Six random lower-case hex digits. */
export function randomSuffix(): string {
  return randomBytes(3).toString('hex')
}

/**
 * `<name>-<6 hex>`, with the name slugged and cut so the result is at most 63 characters.
 * Always matches PROJECT_ID_PATTERN (src/lib/contract/ids.ts) (a name without letters or digits becomes `project`).
 */
export function makeProjectId(name: string, suffix: string = randomSuffix()): string {
  if (!/^[0-9a-f]{6}$/.test(suffix)) throw new Error(`project id suffix must be 6 hex digits, got "${suffix}"`)
  const base = slugify(name, MAX_ID_LENGTH - PROJECT_SUFFIX_LENGTH) || FALLBACK_PROJECT_NAME
  return `${base}-${suffix}`
}

/** "support-desk" → "Support Desk": a display name for an agent id. */
export function titleFromId(id: string): string {
  return id
    .split('-')
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(' ')
}

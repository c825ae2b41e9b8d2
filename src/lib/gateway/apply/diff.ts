/**
 * Pure helpers of the planner: canonical JSON (stable key order, undefined dropped), the
 * flattening of an agent spec into leaf paths, and the field-level diff of two specs.
 */
import type {FieldChange} from '../../contract/apply.js'
import type {AgentSpec} from '../store/types.js'

type Json = null | boolean | number | string | Json[] | {[key: string]: Json}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A JSON value with object keys sorted and undefined members removed. */
export function canonical(value: unknown): Json {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : canonical(v)))
  if (isPlainObject(value)) {
    const out: {[key: string]: Json} = {}
    for (const key of Object.keys(value).sort()) {
      const v = value[key]
      if (v !== undefined) out[key] = canonical(v)
    }
    return out
  }
  if (value === undefined) return null
  return value as Json
}

/** Stable serialization: equal values give equal strings whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value))
}

function isScalarArray(value: unknown[]): boolean {
  return value.every((v) => v === null || typeof v !== 'object')
}

function joinPath(prefix: string, key: string): string {
  const safe = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key)
  if (!prefix) return safe
  return /^[A-Za-z_]/.test(safe) ? `${prefix}.${safe}` : `${prefix}[${safe}]`
}

/**
 * Leaves of a value by path: objects are walked (`mcp.docs.url`), arrays of objects are
 * indexed (`providers[0].model`), arrays of scalars are one leaf (`network.allowed`).
 * Empty objects and arrays of objects contribute no leaves.
 */
export function flatten(value: unknown, prefix = '', out = new Map<string, Json>()): Map<string, Json> {
  if (isPlainObject(value)) {
    for (const key of Object.keys(value).sort()) {
      if (value[key] !== undefined) flatten(value[key], joinPath(prefix, key), out)
    }
  } else if (Array.isArray(value) && !isScalarArray(value)) {
    value.forEach((item, i) => flatten(item, `${prefix}[${i}]`, out))
  } else if (value !== undefined) {
    out.set(prefix, canonical(value))
  }
  return out
}

function hasObjects(value: unknown[]): boolean {
  return value.some((v) => v !== null && typeof v === 'object')
}

function diffValues(path: string, a: unknown, b: unknown, out: FieldChange[]): void {
  if (a === undefined && b === undefined) return
  if (a === undefined || b === undefined) {
    // A whole member added or removed (a provider, an MCP server): one field, not one per leaf.
    const field: FieldChange = {path}
    if (a !== undefined) field.before = canonical(a)
    if (b !== undefined) field.after = canonical(b)
    out.push(field)
    return
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      diffValues(joinPath(path, key), a[key], b[key], out)
    }
    return
  }
  if (Array.isArray(a) && Array.isArray(b) && (hasObjects(a) || hasObjects(b))) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) diffValues(`${path}[${i}]`, a[i], b[i], out)
    return
  }
  if (canonicalJson(a) !== canonicalJson(b)) out.push({path, before: canonical(a), after: canonical(b)})
}

/**
 * Field-level differences of two agent specs. A created agent lists its leaves (`after` only);
 * a member present on one side only (a provider, an MCP server) is one field holding it whole.
 */
export function diffSpecs(before: AgentSpec | undefined, after: AgentSpec | undefined): FieldChange[] {
  if (!before || !after) {
    const leaves = flatten(before ?? after)
    return [...leaves.keys()].sort(comparePaths).map((path) => (before ? {path, before: leaves.get(path)} : {path, after: leaves.get(path)}))
  }
  const fields: FieldChange[] = []
  diffValues('', before, after, fields)
  return fields.sort((x, y) => comparePaths(x.path, y.path))
}

const TOP_ORDER = ['name', 'description', 'providers', 'mcp', 'network', 'tools', 'files']

function topRank(path: string): number {
  const top = /^[^.[]*/.exec(path)![0]
  const i = TOP_ORDER.indexOf(top)
  return i === -1 ? TOP_ORDER.length : i
}

/** Order paths as a reader expects: spec order first, then by segment, indices numerically. */
export function comparePaths(x: string, y: string): number {
  const rank = topRank(x) - topRank(y)
  if (rank !== 0) return rank
  const sx = x.split(/(\d+)/)
  const sy = y.split(/(\d+)/)
  for (let i = 0; i < Math.min(sx.length, sy.length); i++) {
    if (sx[i] === sy[i]) continue
    const nx = Number(sx[i])
    const ny = Number(sy[i])
    if (i % 2 === 1 && Number.isFinite(nx) && Number.isFinite(ny)) return nx - ny
    return sx[i]! < sy[i]! ? -1 : 1
  }
  return sx.length - sy.length
}

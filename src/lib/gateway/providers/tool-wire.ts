/**
 * What the three dialects share about tools on the wire: reading the arguments a model sent
 * (which may be malformed: the tool loop reports that to the model, the request must still be
 * valid), fresh call ids for providers that send none, and the JSON Schema subset Gemini takes.
 */
import {randomBytes} from 'node:crypto'

type Json = Record<string, unknown>

/** The arguments as an object when they are JSON text of one; undefined otherwise. */
export function argumentsObject(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined
  } catch {
    return undefined
  }
}

/** A call id for a call the provider gave none (Gemini, some OpenAI-compatible servers): unique within a session. */
export function newCallId(): string {
  return `call_${randomBytes(12).toString('hex')}`
}

/** The keys of Gemini's `Schema` (a select subset of an OpenAPI 3.0 schema object); any other key is refused. */
const GEMINI_SCHEMA_KEYS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
])

/** The formats Gemini accepts, by type; other formats (`uri`, `email`, …) are refused. */
const GEMINI_FORMATS: Record<string, readonly string[]> = {
  string: ['enum', 'date-time'],
  number: ['float', 'double'],
  integer: ['int32', 'int64'],
}

/** How deep `$ref`s are followed before a recursive definition is cut to a plain object. */
const MAX_REF_DEPTH = 8

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * An MCP tool's JSON Schema as Gemini's `parameters`: `$ref`s to `$defs` / `definitions` inlined
 * (recursion cut at a depth), `allOf` merged, `oneOf` read as `anyOf`, `const` as a one-value
 * enum, a type list (`["string", "null"]`) as a type and `nullable`, non-string enums and
 * formats Gemini does not know dropped, `required` limited to the properties that exist, and
 * every key outside Gemini's subset (`$schema`, `additionalProperties`, `$defs`,
 * `exclusiveMinimum`, …) removed. Undefined for a schema without parameters: Gemini refuses an
 * object schema with empty `properties`, and a function without parameters leaves them unset.
 */
export function geminiParameters(schema: unknown): Json | undefined {
  if (!isObject(schema)) return undefined
  const defs = {...(isObject(schema.definitions) ? schema.definitions : {}), ...(isObject(schema.$defs) ? schema.$defs : {})}
  const out = cleanSchema(schema, defs, 0)
  if (out.type === undefined && isObject(out.properties)) out.type = 'object'
  if (String(out.type ?? '').toLowerCase() === 'object' && !isObject(out.properties) && out.anyOf === undefined) return undefined
  return out
}

function resolveRef(ref: string, defs: Json): Json | undefined {
  const match = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref)
  if (!match) return undefined
  const name = match[1].replace(/~1/g, '/').replace(/~0/g, '~')
  const value = defs[name]
  return isObject(value) ? value : undefined
}

function cleanSchema(input: Json, defs: Json, depth: number): Json {
  let node: Json = input
  if (typeof node.$ref === 'string') {
    const target = depth < MAX_REF_DEPTH ? resolveRef(node.$ref, defs) : undefined
    const {$ref: _ref, ...siblings} = node
    if (!target) return {type: 'object', ...(typeof siblings.description === 'string' ? {description: siblings.description} : {})}
    return cleanSchema({...target, ...siblings}, defs, depth + 1)
  }
  if (Array.isArray(node.allOf)) {
    const {allOf, ...rest} = node
    const merged: Json = {...rest}
    const properties: Json = isObject(rest.properties) ? {...rest.properties} : {}
    const required = new Set<string>(Array.isArray(rest.required) ? rest.required.filter((r): r is string => typeof r === 'string') : [])
    for (const part of allOf as unknown[]) {
      if (!isObject(part)) continue
      const sub = cleanSchema(part, defs, depth + 1)
      if (isObject(sub.properties)) Object.assign(properties, sub.properties)
      if (Array.isArray(sub.required)) for (const r of sub.required) required.add(String(r))
      for (const [k, v] of Object.entries(sub)) if (k !== 'properties' && k !== 'required' && merged[k] === undefined) merged[k] = v
    }
    if (Object.keys(properties).length > 0) merged.properties = properties
    if (required.size > 0) merged.required = [...required]
    node = merged
  }

  const out: Json = {}
  let nullable = node.nullable === true
  let type: unknown = node.type
  if (Array.isArray(type)) {
    const types = type.filter((t): t is string => typeof t === 'string')
    if (types.includes('null')) nullable = true
    const rest = types.filter((t) => t !== 'null')
    type = rest.length === 1 ? rest[0] : undefined
    if (rest.length > 1) out.anyOf = rest.map((t) => ({type: t}))
  } else if (type === 'null') {
    nullable = true
    type = undefined
  }

  const variants = Array.isArray(node.anyOf) ? node.anyOf : Array.isArray(node.oneOf) ? node.oneOf : undefined
  if (variants) {
    const cleaned: Json[] = []
    for (const v of variants as unknown[]) {
      if (!isObject(v)) continue
      if (v.type === 'null') {
        nullable = true
        continue
      }
      cleaned.push(cleanSchema(v, defs, depth + 1))
    }
    if (cleaned.length === 1 && type === undefined) Object.assign(out, cleaned[0])
    else if (cleaned.length > 0) out.anyOf = cleaned
  }

  let values: unknown[] | undefined = Array.isArray(node.enum) ? node.enum : node.const !== undefined ? [node.const] : undefined
  if (values) {
    if (values.includes(null)) nullable = true
    values = values.filter((v) => v !== null)
    if (values.length > 0 && values.every((v) => typeof v === 'string') && (type === undefined || type === 'string')) {
      out.enum = values
      type = 'string'
    }
  }

  if (typeof type === 'string') out.type = type
  if (nullable) out.nullable = true
  const typeName = typeof out.type === 'string' ? out.type.toLowerCase() : ''

  for (const [key, value] of Object.entries(node)) {
    if (!GEMINI_SCHEMA_KEYS.has(key) || key in out || value === undefined) continue
    switch (key) {
      case 'type':
      case 'nullable':
      case 'enum':
      case 'anyOf':
        break // handled above
      case 'properties': {
        if (!isObject(value)) break
        const properties: Json = {}
        for (const [name, sub] of Object.entries(value)) properties[name] = isObject(sub) ? cleanSchema(sub, defs, depth + 1) : {}
        if (Object.keys(properties).length > 0) out.properties = properties
        break
      }
      case 'items': {
        const first = Array.isArray(value) ? value[0] : value // a tuple: its first item's schema
        if (isObject(first)) out.items = cleanSchema(first, defs, depth + 1)
        break
      }
      case 'format':
        if (typeof value === 'string' && (GEMINI_FORMATS[typeName] ?? []).includes(value)) out.format = value
        break
      case 'required':
      case 'propertyOrdering':
        if (Array.isArray(value)) out[key] = value.filter((v): v is string => typeof v === 'string')
        break
      default:
        out[key] = value
    }
  }
  // Gemini refuses a required or ordered name that is not a property.
  for (const key of ['required', 'propertyOrdering'] as const) {
    if (!Array.isArray(out[key])) continue
    const names = isObject(out.properties) ? (out[key] as string[]).filter((n) => n in (out.properties as Json)) : []
    if (names.length > 0) out[key] = names
    else delete out[key]
  }
  // Gemini refuses an array schema without `items`; JSON Schema allows any items there.
  if (typeName === 'array' && out.items === undefined) out.items = {type: 'string'}
  return out
}

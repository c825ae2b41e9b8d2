/**
 * The names tools are offered to the model under: `<server>__<tool>`, sanitised to
 * `[A-Za-z0-9_-]`, at most 64 characters, unique within one turn (the three provider dialects
 * accept exactly that alphabet and length).
 */
import {createHash} from 'node:crypto'

export const MAX_TOOL_NAME = 64

function sanitize(part: string): string {
  return part.replace(/[^A-Za-z0-9_-]/g, '_')
}

/** A short, stable suffix that tells two names apart once they are cut or sanitised alike. */
function suffixOf(server: string, tool: string): string {
  return createHash('sha256').update(`${server}\u0000${tool}`).digest('hex').slice(0, 6)
}

/**
 * Offered names for (server, tool) pairs, in the given order: the plain `<server>__<tool>` when
 * it is valid and free, else a sanitised and/or shortened form ending in `_<6 hex>` so that it
 * stays unique. The same input always gives the same names.
 */
export function offeredNames(pairs: readonly {server: string; tool: string}[]): string[] {
  const taken = new Set<string>()
  const out: string[] = []
  // Exact names first, so that a tool whose plain name is valid keeps it whatever its neighbours.
  const plain = pairs.map(({server, tool}) => `${server}__${tool}`)
  const exact = plain.map((name) => /^[A-Za-z0-9_-]{1,64}$/.test(name))
  const counts = new Map<string, number>()
  for (const [i, name] of plain.entries()) if (exact[i]) counts.set(name, (counts.get(name) ?? 0) + 1)
  for (const [i, {server, tool}] of pairs.entries()) {
    let name = plain[i]!
    if (!exact[i] || counts.get(name)! > 1 || taken.has(name)) {
      const suffix = `_${suffixOf(server, tool)}`
      name = sanitize(name).slice(0, MAX_TOOL_NAME - suffix.length) + suffix
      let n = 1
      while (taken.has(name)) name = `${name.slice(0, MAX_TOOL_NAME - 3)}_${n++}`.slice(0, MAX_TOOL_NAME)
    }
    taken.add(name)
    out.push(name)
  }
  return out
}

/** The policy path of a tool: `/mcp/<server>/tools/<name>`. */
export function toolPath(server: string, tool: string): string {
  return `/mcp/${server}/tools/${tool}`
}

import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

/**
 * The layers of src/ (docs/ARCHITECTURE.md):
 * - core/      the ground floor (neutral errors, trace): imports nothing of lobu's but itself
 * - contract/  what the CLI and the gateway agree on (ids, scopes, port, provider catalog, wire
 *              types): imports only core/ and itself
 * - gateway/   the server: imports only itself, core/ and contract/
 * - embedded/  the one bridge: boots the gateway inside the CLI process, may import both sides
 * - the CLI (commands/ and every other lib/ folder): never imports gateway/ but through embedded/
 */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith('.ts') ? [full] : []
  })
}

/** Relative specifiers of static imports, re-exports, type imports and dynamic import() calls. */
function relativeImports(text: string): string[] {
  const found: string[] = []
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g
  for (const match of text.matchAll(pattern)) found.push(match[1]!)
  return found
}

type Layer = 'core' | 'contract' | 'gateway' | 'embedded' | 'cli'

function layerOf(file: string): Layer {
  const rel = path.relative(SRC, file).split(path.sep)
  if (rel[0] === 'lib' && (rel[1] === 'core' || rel[1] === 'contract' || rel[1] === 'gateway' || rel[1] === 'embedded')) return rel[1]
  return 'cli'
}

const ALLOWED: Record<Layer, readonly Layer[]> = {
  core: ['core'],
  contract: ['core', 'contract'],
  gateway: ['core', 'contract', 'gateway'],
  embedded: ['core', 'contract', 'gateway', 'embedded', 'cli'],
  cli: ['core', 'contract', 'embedded', 'cli'],
}

/** Every import of src/ that crosses a layer it may not, as "from -> to". */
export function crossings(files: readonly string[]): string[] {
  const out: string[] = []
  for (const file of files) {
    const from = layerOf(file)
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), spec)
      const to = layerOf(target)
      if (!ALLOWED[from].includes(to)) out.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, target)}`)
    }
  }
  return out
}

describe('architecture: imports between layers', () => {
  const files = sourceFiles(SRC)

  it('finds the source files and their imports', () => {
    expect(files.length).toBeGreaterThan(100)
    expect(relativeImports(`import {a} from './a.js'\nimport type {B} from "../b.js"\nexport {c} from './c.js'\nawait import('./d.js')\nimport './e.js'`)).toEqual([
      './a.js',
      '../b.js',
      './c.js',
      './d.js',
      './e.js',
    ])
  })

  it('no import crosses the gateway/CLI line but through contract/, core/ and embedded/', () => {
    expect(crossings(files)).toEqual([])
  })

  it('the core and contract modules stand below both sides', () => {
    const lower = files.filter((f) => ['core', 'contract'].includes(layerOf(f)))
    expect(crossings(lower)).toEqual([])
  })
})

/**
 * Fast paths for `lobu --version` and `lobu --help` (and `lobu` alone): they sit on every
 * tab-completion's and every "what was that command?" path, and loading @oclif/core alone costs
 * about twice node's own start-up. Both are answered from package.json and the oclif manifest
 * generated at build, with node:fs only. Anything else (and a missing manifest) goes to oclif.
 */
import {readFileSync} from 'node:fs'

interface ManifestCommand {
  id: string
  summary?: string
  description?: string
  aliases?: string[]
  hidden?: boolean
}

interface PackageJson {
  name: string
  version: string
  description?: string
  oclif?: {bin?: string; plugins?: string[]; topics?: Record<string, {description?: string}>}
}

/** The order and grouping of the root help. Commands not listed fall under OTHER COMMANDS. */
const GROUPS: Array<{title: string; ids: string[]}> = [
  {title: 'PROJECT', ids: ['init', 'validate', 'apply']},
  {title: 'RUN AND CHAT', ids: ['run', 'chat', 'tools', 'agents']},
  {title: 'GATEWAYS AND ACCESS', ids: ['context', 'auth', 'whoami', 'token', 'secrets', 'oauth', 'org']},
  {title: 'SETUP', ids: ['doctor', 'autocomplete']},
]

const EXAMPLES = [
  'lobu init demo --yes && cd demo',
  'lobu chat "hello"',
  'lobu run --watch',
  'lobu apply -c staging --yes --detailed-exitcode',
]

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]!.trim()
}

export function versionLine(pkg: Pick<PackageJson, 'name' | 'version' | 'oclif'>): string {
  return `${pkg.oclif?.bin ?? pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}`
}

export function renderRootHelp(pkg: PackageJson, commands: ManifestCommand[]): string {
  const bin = pkg.oclif?.bin ?? pkg.name
  const topics = pkg.oclif?.topics ?? {}
  const visible = commands.filter((c) => !c.hidden)
  const entries = new Map<string, string>()
  for (const c of visible) {
    const [head] = c.id.split(':')
    if (c.id.includes(':')) {
      if (!entries.has(head!)) entries.set(head!, firstLine(topics[head!]?.description) || `${head} commands`)
      continue
    }
    const aliases = (c.aliases ?? []).length > 0 ? ` (${c.aliases!.join(', ')})` : ''
    // Plugin commands' summaries may hold oclif's template for the binary name.
    entries.set(c.id, `${firstLine(c.summary ?? c.description).replaceAll('<%= config.bin %>', bin)}${aliases}`)
  }
  const width = Math.max(...[...entries.keys()].map((k) => k.length), 8) + 2
  const out: string[] = []
  if (pkg.description) out.push(pkg.description, '')
  out.push('VERSION', `  ${versionLine(pkg)}`, '', 'USAGE', `  $ ${bin} COMMAND [FLAGS]`, '')
  const used = new Set<string>()
  const groups = [...GROUPS, {title: 'OTHER COMMANDS', ids: [...entries.keys()].sort()}]
  for (const g of groups) {
    const rows = g.ids.filter((id) => entries.has(id) && !used.has(id))
    if (rows.length === 0) continue
    out.push(g.title)
    for (const id of rows) {
      used.add(id)
      out.push(`  ${id.padEnd(width)}${entries.get(id)}`)
    }
    out.push('')
  }
  out.push('EXAMPLES', ...EXAMPLES.map((e) => `  $ ${e}`), '')
  out.push(`Run \`${bin} COMMAND --help\` for a command's flags and examples (e.g. \`${bin} token --help\`).`)
  return out.join('\n') + '\n'
}

/**
 * Commands of the plugins listed in `oclif.plugins` (e.g. autocomplete), from each plugin's own
 * manifest, found in the nearest node_modules walking up from the package root. A plugin whose
 * manifest is not found is left out of the help (oclif still runs it).
 */
function pluginCommands(pkg: PackageJson, root: URL): ManifestCommand[] {
  const commands: ManifestCommand[] = []
  for (const name of pkg.oclif?.plugins ?? []) {
    for (let dir = root; ; dir = new URL('../', dir)) {
      try {
        const manifest = JSON.parse(readFileSync(new URL(`node_modules/${name}/oclif.manifest.json`, dir), 'utf8')) as {commands?: Record<string, ManifestCommand>}
        commands.push(...Object.values(manifest.commands ?? {}))
        break
      } catch {
        if (new URL('../', dir).href === dir.href) break
      }
    }
  }
  return commands
}

/** Answer `--version` / `--help` without oclif. Returns false when oclif must handle argv. */
export function tryFastPath(argv: readonly string[], root: URL): boolean {
  const args = argv.filter((a) => a !== '--no-color')
  const isVersion = args.length === 1 && ['--version', '-v', 'version'].includes(args[0]!)
  const isHelp = args.length === 0 || (args.length === 1 && ['--help', '-h', 'help'].includes(args[0]!))
  if (!isVersion && !isHelp) return false
  try {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as PackageJson
    if (isVersion) {
      process.stdout.write(versionLine(pkg) + '\n')
      return true
    }
    const manifest = JSON.parse(readFileSync(new URL('oclif.manifest.json', root), 'utf8')) as {commands: Record<string, ManifestCommand>}
    process.stdout.write(renderRootHelp(pkg, [...Object.values(manifest.commands), ...pluginCommands(pkg, root)]))
    return true
  } catch {
    return false
  }
}

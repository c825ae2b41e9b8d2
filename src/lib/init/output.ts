/**
 * The human summary `lobu init` prints on stderr: what was written, then the next steps.
 */
import type {InitOutcome} from './index.js'

/** Quote a path for a POSIX shell when it needs it. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\-./~+@%:,=]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`
}

export interface Style {
  bold(s: string): string
  dim(s: string): string
  green(s: string): string
}

const plain: Style = {bold: (s) => s, dim: (s) => s, green: (s) => s}

export function formatSummary(outcome: InitOutcome, style: Style = plain): string {
  const {result, files, cdPath, keyVariable, keyReady} = outcome
  const where = cdPath === undefined ? 'the current directory' : shellQuote(cdPath)
  const lines: string[] = [
    `${style.green('Created')} Lobu project ${style.bold(result.projectId)} in ${where}: agent ${style.bold(result.agent)}, ${result.provider} ${result.model}`,
  ]
  const width = Math.max(...files.map((f) => f.action.length))
  for (const f of files) {
    const note = f.note ? style.dim(`  (${f.note})`) : ''
    const text = `  ${f.action.padEnd(width)}  ${f.path}${note}`
    lines.push(f.action === 'kept' ? style.dim(`  ${f.action.padEnd(width)}  ${f.path}`) + note : text)
  }

  lines.push('', 'Next steps:')
  if (cdPath !== undefined) lines.push(`  cd ${shellQuote(cdPath)}`)
  if (keyVariable && !keyReady) {
    lines.push(`  export ${keyVariable}=<your key>   ${style.dim('# or put it in .env; lobu.toml reads $' + keyVariable)}`)
  }
  if (result.provider === 'ollama') lines.push(`  ollama pull ${shellQuote(result.model)}`)
  lines.push('  lobu run', '  lobu chat "hello"')
  return lines.join('\n') + '\n'
}

/** Checks of this machine: Node.js, the config dir and credentials.json (docs/SECURITY.md S3). */
import {readFileSync, statSync, type Stats} from 'node:fs'
import {join} from 'node:path'

import {configDir} from '../context/files.js'
import {type Check, check} from './types.js'

export const MIN_NODE = '20.18.1'

function parseVersion(v: string): number[] {
  return v
    .replace(/^v/, '')
    .split(/[.-]/)
    .slice(0, 3)
    .map((n) => Number.parseInt(n, 10) || 0)
}

/** a ≥ b for `major.minor.patch` versions. */
export function versionAtLeast(a: string, b: string): boolean {
  const x = parseVersion(a)
  const y = parseVersion(b)
  for (let i = 0; i < 3; i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0)
  }
  return true
}

export function checkNode(version: string = process.versions.node): Check {
  const v = version.replace(/^v/, '')
  if (versionAtLeast(v, MIN_NODE)) return check('node', 'ok', `Node.js ${v}`)
  return check('node', 'fail', `Node.js ${v} is too old: lobu needs ${MIN_NODE} or newer`, `Install Node.js ${MIN_NODE}+ (20 LTS or newer), e.g. with nvm: nvm install 20`)
}

function octal(mode: number): string {
  return '0' + (mode & 0o777).toString(8).padStart(3, '0')
}

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

const checksModes = process.platform !== 'win32'

/** The config dir exists as a directory, mode 0700. A missing one is fine (created on first use). */
export function checkConfigDir(env: NodeJS.ProcessEnv): Check {
  const dir = configDir(env)
  let stat: Stats | undefined
  try {
    stat = statOf(dir)
  } catch (error) {
    return check('config-dir', 'fail', `config dir ${dir} cannot be read: ${(error as Error).message}`, `Check the permissions of ${dir}`)
  }
  if (!stat) return check('config-dir', 'ok', `config dir ${dir} does not exist yet (created by \`lobu run\`, \`lobu context add\` or \`lobu oauth login\`)`)
  if (!stat.isDirectory()) {
    return check('config-dir', 'fail', `config dir ${dir} is not a directory`, `Move the file away, or point LOBU_CONFIG_DIR at a directory`)
  }
  if (checksModes && (stat.mode & 0o077) !== 0) {
    return check('config-dir', 'warn', `config dir ${dir} is mode ${octal(stat.mode)}: other users can list it (should be 0700)`, `chmod 700 ${dir}`)
  }
  return check('config-dir', 'ok', `config dir ${dir}${checksModes ? ` (${octal(stat.mode)})` : ''}`)
}

/** credentials.json: absent, or mode 0600 and valid JSON. A group/world-readable file fails (every command refuses it). */
export function checkCredentials(env: NodeJS.ProcessEnv): Check {
  const file = join(configDir(env), 'credentials.json')
  let stat: Stats | undefined
  try {
    stat = statOf(file)
  } catch (error) {
    return check('credentials', 'fail', `${file} cannot be read: ${(error as Error).message}`, `Check the permissions of ${file}`)
  }
  if (!stat) return check('credentials', 'ok', 'credentials.json: no tokens stored yet')
  if (checksModes && (stat.mode & 0o077) !== 0) {
    return check(
      'credentials',
      'fail',
      `credentials.json is mode ${octal(stat.mode)}: readable by other users, so every command refuses it`,
      `chmod 600 ${file}`,
    )
  }
  let count: number
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as {tokens?: unknown} | null
    const tokens = raw?.tokens
    count = tokens && typeof tokens === 'object' ? Object.keys(tokens).length : 0
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ? (error as Error).message : 'not valid JSON'
    return check('credentials', 'fail', `${file}: ${reason}`, 'Delete it and log in again (`lobu run` for local, `lobu oauth login -c NAME` for others)')
  }
  const mode = checksModes ? `${octal(stat.mode)}, ` : ''
  return check('credentials', 'ok', `credentials.json (${mode}${count} token${count === 1 ? '' : 's'})`)
}

/**
 * Which lobu.toml a command uses: `--config PATH` > `$LOBU_CONFIG` > the nearest `lobu.toml`
 * walking up from the working directory (like git finds `.git`).
 */
import {statSync} from 'node:fs'
import path from 'node:path'

import {UsageError} from '../core/errors.js'

export const CONFIG_FILE_NAME = 'lobu.toml'

export interface FindConfigOptions {
  cwd: string
  /** The --config flag. */
  explicit?: string
  env?: NodeJS.ProcessEnv
}

function kind(file: string): 'file' | 'dir' | undefined {
  try {
    const stat = statSync(file)
    return stat.isDirectory() ? 'dir' : stat.isFile() ? 'file' : undefined
  } catch {
    return undefined
  }
}

/** A named path must exist; a directory stands for the lobu.toml inside it. */
function named(cwd: string, given: string, source: string): string {
  const resolved = path.resolve(cwd, given)
  const found = kind(resolved)
  if (found === 'file') return resolved
  if (found === 'dir' && kind(path.join(resolved, CONFIG_FILE_NAME)) === 'file') return path.join(resolved, CONFIG_FILE_NAME)
  throw new UsageError(`config file not found: ${given} (from ${source})`, {
    code: 'CONFIG_NOT_FOUND',
    hint:
      found === 'dir'
        ? `${given} is a directory without a ${CONFIG_FILE_NAME}; create one with \`lobu init\``
        : `Check the path, or drop ${source} to find ${CONFIG_FILE_NAME} by walking up from the current directory`,
  })
}

export function findConfigFile({cwd, env = process.env, explicit}: FindConfigOptions): string | undefined {
  if (explicit !== undefined && explicit !== '') return named(cwd, explicit, '--config')
  if (env.LOBU_CONFIG) return named(cwd, env.LOBU_CONFIG, 'LOBU_CONFIG')
  let dir = path.resolve(cwd)
  for (;;) {
    const candidate = path.join(dir, CONFIG_FILE_NAME)
    if (kind(candidate) === 'file') return candidate
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/**
 * Where the project templates live: `templates/project/` at the package root, shipped through
 * package.json `files`. This module sits at `dist/lib/init/` when built and `src/lib/init/`
 * under tsx/vitest: three levels below the root in both cases.
 */
import {readFile} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'

import {OperationError} from '../core/errors.js'

export function templatesDir(): string {
  return fileURLToPath(new URL('../../../templates/project/', import.meta.url))
}

/** The text of one template, by its path below `templates/project/`. */
export async function readTemplate(name: string): Promise<string> {
  const file = fileURLToPath(new URL(name, new URL('../../../templates/project/', import.meta.url)))
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    throw new OperationError(`template ${name} is missing from this lobu installation (${file})`, {
      hint: 'Reinstall lobu; the package ships a templates/ folder.',
      cause: error,
    })
  }
}

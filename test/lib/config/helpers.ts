import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {afterAll} from 'vitest'

import {type ConfigIssue, formatIssue, parseConfigSource} from '../../../src/lib/config/index.js'

const roots: string[] = []
afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, {force: true, recursive: true})))
})

/** A temp directory with the given files (paths relative to it; a trailing `/` makes a directory). */
export async function tempProject(files: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lobu-config-'))
  roots.push(root)
  for (const [name, content] of Object.entries(files)) {
    const target = path.join(root, name)
    if (name.endsWith('/')) {
      await mkdir(target, {recursive: true})
    } else {
      await mkdir(path.dirname(target), {recursive: true})
      await writeFile(target, content)
    }
  }
  return root
}

/** Parses a source against a root whose agent dirs all exist (`dir = "."`). */
export function check(source: string, root = os.tmpdir()) {
  return parseConfigSource(source, 'lobu.toml', root)
}

export const errorsOf = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'error')
export const warningsOf = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'warning')
/** Formatted errors (`lobu.toml:3:1  path  message`). */
export const errorLines = (source: string, root?: string) => errorsOf(check(source, root).issues).map((i) => formatIssue(i))

/** A minimal valid agent table body (dir "." always exists). */
export const AGENT = `name = "Support"\ndir = "."\n`

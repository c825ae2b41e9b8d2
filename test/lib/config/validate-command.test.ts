import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import Validate from '../../../src/commands/validate.js'
import {AGENT, tempProject} from './helpers.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

let out: string
let err: string
const cwd = process.cwd()
const savedEnv = {...process.env}

beforeEach(() => {
  out = ''
  err = ''
  // BaseCommand writes to the streams; oclif's log() goes through console.log.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk)
    return true
  })
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk)
    return true
  })
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    out += args.join(' ') + '\n'
  })
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    err += args.join(' ') + '\n'
  })
  delete process.env.OPENAI_API_KEY
  delete process.env.LOBU_CONFIG
})

afterEach(() => {
  vi.restoreAllMocks()
  process.chdir(cwd)
  process.env = {...savedEnv}
})

async function run(argv: string[]): Promise<number> {
  try {
    await Validate.run(argv, repoRoot)
    return 0
  } catch (error) {
    const exit = (error as {oclif?: {exit?: number}}).oclif?.exit
    if (exit === undefined) throw error
    return exit
  }
}

const TWO_AGENTS = `[agents.support]\n${AGENT}[[agents.support.providers]]\nid = "openai"\nkey = "$OPENAI_API_KEY"\n[agents.docs]\n${AGENT}worker = {}\n`
const BROKEN = `[agents.support]\nname = 1\ndir = "."\nnmae = "x"\nworker = {}\n`

describe('lobu validate', () => {
  it('prints ✓ with the agents on stdout and warnings on stderr; exit 0', async () => {
    const root = await tempProject({'lobu.toml': TWO_AGENTS})
    process.chdir(root)
    expect(await run([])).toBe(0)
    expect(out).toBe('✓ lobu.toml is valid: 2 agents (support, docs)\n')
    expect(err).toBe(
      [
        'Warning: lobu.toml:6:7  agents.support.providers[0].key  $OPENAI_API_KEY is not set (in the environment or .env); lobu apply needs it',
        'Warning: lobu.toml:10:1  agents.docs.worker  not supported yet: ignored',
        '',
      ].join('\n'),
    )
  })

  it('a key from .env is not reported missing', async () => {
    const root = await tempProject({'.env': 'OPENAI_API_KEY=sk-1\n', 'lobu.toml': TWO_AGENTS})
    process.chdir(root)
    expect(await run([])).toBe(0)
    expect(err).not.toContain('OPENAI_API_KEY')
  })

  it('--config names the file; errors go to stderr with exit 2', async () => {
    const root = await tempProject({'conf/lobu.toml': BROKEN})
    process.chdir(root)
    expect(await run(['--config', 'conf/lobu.toml'])).toBe(2)
    expect(out).toBe('')
    expect(err).toBe(
      [
        'Warning: conf/lobu.toml:5:1  agents.support.worker  not supported yet: ignored',
        'Error: conf/lobu.toml has 2 errors',
        '  conf/lobu.toml:2:8  agents.support.name  expected a string, got an integer',
        '  conf/lobu.toml:4:1  agents.support.nmae  unknown key `nmae`; did you mean `name`?',
        'Hint: Fix the errors above, then run `lobu validate`',
        '',
      ].join('\n'),
    )
  })

  it('--json returns {valid, file, agents, warnings, errors}', async () => {
    const root = await tempProject({'lobu.toml': TWO_AGENTS})
    process.chdir(root)
    expect(await run(['--json'])).toBe(0)
    const report = JSON.parse(out)
    expect(report).toMatchObject({agents: ['support', 'docs'], errors: [], file: 'lobu.toml', valid: true})
    expect(report.warnings).toHaveLength(2)
    expect(err).toBe('')
  })

  it('--json on an invalid file prints valid:false with every error and exits 2', async () => {
    const root = await tempProject({'lobu.toml': BROKEN})
    process.chdir(root)
    expect(await run(['--json'])).toBe(2)
    const report = JSON.parse(out)
    expect(report.valid).toBe(false)
    expect(report.errors.map((e: {line: number; path: string}) => `${e.line} ${e.path}`)).toEqual([
      '2 agents.support.name',
      '4 agents.support.nmae',
    ])
    expect(report.warnings).toHaveLength(1)
  })

  it('no lobu.toml: exit 2 with the lobu init hint', async () => {
    const root = await tempProject({'empty/': ''})
    process.chdir(path.join(root, 'empty'))
    expect(await run([])).toBe(2)
    expect(err).toContain('Error: no lobu.toml found in')
    expect(err).toContain('lobu init')
  })
})

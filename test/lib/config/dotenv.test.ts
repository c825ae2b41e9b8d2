import {describe, expect, it} from 'vitest'

import {loadDotEnv, loadProject, mergeEnv, parseDotEnv} from '../../../src/lib/config/index.js'
import {tempProject} from './helpers.js'

describe('parseDotEnv', () => {
  it('reads KEY=VALUE lines with export, quotes and comments', () => {
    const source = [
      '# a comment',
      '',
      'PLAIN=value',
      'SPACED = spaced value  ',
      'export EXPORTED=yes',
      '  INDENTED=1',
      'COMMENTED=abc # trailing comment',
      'HASH=abc#not-a-comment',
      'DOUBLE="a \\"quoted\\" value # kept"  # comment',
      "SINGLE='literal \\n $NOT_EXPANDED'",
      'ESCAPES="line1\\nline2\\ttab"',
      'MULTI="first',
      'second"',
      'EMPTY=',
      'EMPTY_QUOTED=""',
      'not an assignment',
      'URL=https://example.com/a?b=c',
      'WIN=crlf\r',
    ].join('\n')
    expect(parseDotEnv(source)).toEqual({
      COMMENTED: 'abc',
      DOUBLE: 'a "quoted" value # kept',
      EMPTY: '',
      EMPTY_QUOTED: '',
      ESCAPES: 'line1\nline2\ttab',
      EXPORTED: 'yes',
      HASH: 'abc#not-a-comment',
      INDENTED: '1',
      MULTI: 'first\nsecond',
      PLAIN: 'value',
      SINGLE: 'literal \\n $NOT_EXPANDED',
      SPACED: 'spaced value',
      URL: 'https://example.com/a?b=c',
      WIN: 'crlf',
    })
  })

  it('the last assignment of a name wins', () => {
    expect(parseDotEnv('A=1\nA=2\n')).toEqual({A: '2'})
  })
})

describe('loadDotEnv and precedence', () => {
  it('an absent .env is an empty map', async () => {
    expect(await loadDotEnv(await tempProject())).toEqual({})
  })

  it('process env wins over .env (an empty process value does not hide a .env value)', () => {
    expect(mergeEnv({A: 'dotenv', B: 'dotenv', C: 'dotenv'}, {A: 'process', B: '', D: 'process'})).toEqual({
      A: 'process',
      B: 'dotenv',
      C: 'dotenv',
      D: 'process',
    })
  })

  it('loadProject merges the root .env under the given process env', async () => {
    const root = await tempProject({
      '.env': 'OPENAI_API_KEY=from-dotenv\nONLY_IN_DOTENV=1\n',
      'lobu.toml': '',
      'sub/dir/': '',
    })
    const project = await loadProject({cwd: `${root}/sub/dir`, env: {OPENAI_API_KEY: 'from-process'}})
    expect(project.env.OPENAI_API_KEY).toBe('from-process')
    expect(project.env.ONLY_IN_DOTENV).toBe('1')
  })
})

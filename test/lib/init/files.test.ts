import {describe, expect, it} from 'vitest'

import {dotenvLine, dotenvValue, ignoreEntries, mergeDotenv, mergeGitignore} from '../../../src/lib/init/files.js'

const TEMPLATE = '# lobu: local gateway data and secrets\n.lobu/\n.env\n'

describe('mergeGitignore', () => {
  it('appends only the missing entries under the header', () => {
    const r = mergeGitignore('node_modules\n.env\n', TEMPLATE)
    expect(r.content).toBe('node_modules\n.env\n\n# lobu: local gateway data and secrets\n.lobu/\n')
    expect(r.changed).toEqual(['.lobu/'])
  })

  it('treats /.lobu, .lobu and .lobu/* as the same entry', () => {
    for (const existing of ['/.lobu\n/.env\n', '.lobu\n.env', '.lobu/*\n/.env\n']) {
      const r = mergeGitignore(existing, TEMPLATE)
      expect(r.changed, existing).toEqual([])
      expect(r.content).toBe(existing)
    }
  })

  it('adds a newline to a file that lacks one, and handles an empty file', () => {
    expect(mergeGitignore('dist', TEMPLATE).content).toBe('dist\n\n# lobu: local gateway data and secrets\n.lobu/\n.env\n')
    expect(mergeGitignore('', TEMPLATE).content).toBe(TEMPLATE)
  })

  it('does not count a commented-out entry', () => {
    expect(mergeGitignore('# .env\n', TEMPLATE).changed).toEqual(['.lobu/', '.env'])
  })

  it('reads entries, skipping blanks and comments', () => {
    expect(ignoreEntries(TEMPLATE)).toEqual(['.lobu/', '.env'])
  })
})

describe('dotenv helpers', () => {
  it('writes plain values as is and quotes the rest', () => {
    expect(dotenvLine('K', 'sk-abc_123.x/y+z=')).toBe('K=sk-abc_123.x/y+z=')
    expect(dotenvLine('K', 'has space "q" \\')).toBe('K="has space \\"q\\" \\\\"')
  })

  it('reads a value, quoted or not', () => {
    const text = 'A=1\nexport B="two words"\n# C=3\nD=plain # comment\n'
    expect(dotenvValue(text, 'A')).toBe('1')
    expect(dotenvValue(text, 'B')).toBe('two words')
    expect(dotenvValue(text, 'C')).toBeUndefined()
    expect(dotenvValue(text, 'D')).toBe('plain')
  })

  it('appends a missing variable', () => {
    expect(mergeDotenv('A=1', 'K', 'K=v')).toEqual({content: 'A=1\nK=v\n', changed: ['K']})
  })

  it('keeps an existing variable unless told to replace it', () => {
    expect(mergeDotenv('K=old\nA=1\n', 'K', 'K=new')).toEqual({content: 'K=old\nA=1\n', changed: []})
    expect(mergeDotenv('K=old\nA=1\n', 'K', 'K=new', {replace: true})).toEqual({content: 'K=new\nA=1\n', changed: ['K']})
  })

  it('counts a commented-out assignment only when asked (.env.example)', () => {
    expect(mergeDotenv('# K=\n', 'K', 'K=', {commented: true}).changed).toEqual([])
    expect(mergeDotenv('# K=\n', 'K', 'K=v').changed).toEqual(['K'])
  })

  it('does not confuse a variable with one that shares its prefix', () => {
    expect(mergeDotenv('OPENAI_API_KEY_OLD=x\n', 'OPENAI_API_KEY', 'OPENAI_API_KEY=v').changed).toEqual(['OPENAI_API_KEY'])
  })
})

import {describe, expect, it} from 'vitest'

import {AGENT_ID_PATTERN, WIRE_PROJECT_ID_PATTERN, fallbackProjectId, projectIdOf} from '../../../src/lib/contract/ids.js'

describe('agent ids', () => {
  it('accepts lowercase letters, digits and hyphens from a letter or digit, at most 63', () => {
    for (const ok of ['a', 'demo', 'support-desk', '9lives', 'a'.repeat(63)]) expect(AGENT_ID_PATTERN.test(ok), ok).toBe(true)
    for (const bad of ['', 'Bad_Id', '-x', 'a b', 'a'.repeat(64), 'café']) expect(AGENT_ID_PATTERN.test(bad), bad).toBe(false)
  })
})

describe('the project id rule', () => {
  it('a declared [project] id wins', () => {
    expect(projectIdOf('acme-1a2b3c', 'My Agent')).toEqual({id: 'acme-1a2b3c', declared: true})
  })

  it('else the folder name is slugged: a folder named "My Agent" is my-agent', () => {
    expect(projectIdOf(undefined, 'My Agent')).toEqual({id: 'my-agent', declared: false})
    expect(fallbackProjectId('My Agent')).toBe('my-agent')
  })

  it.each([
    ['demo', 'demo'],
    ['Support Desk  (v2)', 'support-desk-v2-'],
    ['.hidden', 'hidden'],
    ['__x', 'x'],
    ['a.b_c-d', 'a.b_c-d'],
    ['___', 'project'],
    ['', 'project'],
    ['日本語', 'project'],
  ])('%j → %j', (folder, id) => {
    expect(fallbackProjectId(folder)).toBe(id)
  })

  it('always gives an id the gateway accepts as managedBy', () => {
    for (const folder of ['My Agent', 'x'.repeat(300), '-', 'ÉTÉ 2026', 'a b/c']) expect(fallbackProjectId(folder)).toMatch(WIRE_PROJECT_ID_PATTERN)
  })
})

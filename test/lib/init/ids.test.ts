import {describe, expect, it} from 'vitest'

import {AGENT_ID_PATTERN as AGENT_ID_RE, PROJECT_ID_PATTERN as PROJECT_ID_RE} from '../../../src/lib/contract/ids.js'
import {
  defaultAgentId,
  makeProjectId,
  randomSuffix,
  slugify,
  titleFromId,
} from '../../../src/lib/init/ids.js'

describe('slugify', () => {
  it.each([
    ['demo', 'demo'],
    ['My Project', 'my-project'],
    ['Support_Desk', 'support-desk'],
    ['  --Café  Crème--  ', 'cafe-creme'],
    ['a..b__c', 'a-b-c'],
    ['日本語', ''],
    ['___', ''],
  ])('%j → %j', (input, expected) => {
    expect(slugify(input)).toBe(expected)
  })

  it('cuts to the maximum and never ends with a hyphen', () => {
    const s = slugify('a'.repeat(60) + ' bcdef')
    expect(s).toBe('a'.repeat(60) + '-bc')
    expect(slugify('a'.repeat(62) + '-b', 63)).toBe('a'.repeat(62))
  })
})

describe('agent ids', () => {
  it('defaults to the slugged directory name, or "agent" when nothing is left', () => {
    expect(defaultAgentId('My Project')).toBe('my-project')
    expect(defaultAgentId('___')).toBe('agent')
    expect(defaultAgentId('x'.repeat(100))).toMatch(AGENT_ID_RE)
  })
})

describe('project ids', () => {
  it('is <slug>-<6 hex>', () => {
    expect(makeProjectId('Support Desk', '3f9a2c')).toBe('support-desk-3f9a2c')
  })

  it('always matches the schema: short, long, empty and odd names', () => {
    for (const name of ['a', 'x', '', '___', '日本', 'A'.repeat(200), `${'b'.repeat(55)}-c`, '-lead']) {
      const id = makeProjectId(name, 'abcdef')
      expect(id, name).toMatch(PROJECT_ID_RE)
      expect(id.length, name).toBeLessThanOrEqual(63)
      expect(id.endsWith('-abcdef'), name).toBe(true)
      expect(id, name).not.toContain('--')
    }
    expect(makeProjectId('', 'abcdef')).toBe('project-abcdef')
    expect(makeProjectId('a', 'abcdef')).toBe('a-abcdef')
  })

  it('uses a random 6-hex suffix by default', () => {
    expect(randomSuffix()).toMatch(/^[0-9a-f]{6}$/)
    expect(makeProjectId('demo')).toMatch(/^demo-[0-9a-f]{6}$/)
    const seen = new Set(Array.from({length: 20}, () => randomSuffix()))
    expect(seen.size).toBeGreaterThan(1)
  })

  it('rejects a malformed suffix', () => {
    expect(() => makeProjectId('demo', 'XYZ')).toThrow(/6 hex/)
  })
})

describe('titleFromId', () => {
  it('turns an id into a display name', () => {
    expect(titleFromId('support-desk')).toBe('Support Desk')
    expect(titleFromId('demo')).toBe('Demo')
  })
})

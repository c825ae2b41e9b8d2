import {describe, expect, it} from 'vitest'

import {agentSummaryLines, appliedLine, formatValue, renderPlan, summaryLine} from '../../../src/lib/apply/render.js'
import type {PlanChange} from '../../../src/lib/contract/apply.js'

const changes: PlanChange[] = [
  {kind: 'secret', id: 'OPENAI_API_KEY', action: 'update', fields: [{path: 'value', changed: true}]},
  {kind: 'agent', id: 'support', action: 'update', fields: [
    {path: 'providers[0].model', before: 'gpt-4o', after: 'gpt-4o-mini'},
    {path: 'mcp.docs', before: {type: 'sse', url: 'https://x.example/sse'}},
    {path: 'description', after: 'Answers'},
  ]},
  {kind: 'agent', id: 'sales', action: 'create', fields: [{path: 'name', after: 'Sales'}]},
  {kind: 'agent', id: 'old', action: 'delete', fields: []},
  {kind: 'agent', id: 'default', action: 'noop', fields: []},
  {kind: 'secret', id: 'ANTHROPIC_API_KEY', action: 'create', fields: [{path: 'value', changed: true}]},
  {kind: 'secret', id: 'GEMINI_API_KEY', action: 'noop', fields: []},
]

describe('renderPlan', () => {
  it('renders agents first with field diffs, then secrets without values', () => {
    expect(renderPlan({changes})).toEqual([
      '~ update agent support',
      '    providers[0].model: "gpt-4o" → "gpt-4o-mini"',
      '    mcp.docs: {"type":"sse","url":"https://x.example/sse"} → (removed)',
      '    description: (none) → "Answers"',
      '+ create agent sales',
      '    name: "Sales"',
      '- delete agent old',
      '= unchanged agent default',
      '~ secret OPENAI_API_KEY (value changed)',
      '+ secret ANTHROPIC_API_KEY (new)',
      '= secret GEMINI_API_KEY (unchanged)',
    ])
  })

  it('applies the style hooks', () => {
    const style = {add: (t: string) => `<g>${t}`, change: (t: string) => `<y>${t}`, remove: (t: string) => `<r>${t}`, dim: (t: string) => `<d>${t}`}
    const lines = renderPlan({changes: changes.slice(3, 5)}, style)
    expect(lines).toEqual(['<r>- delete agent old', '<d>= unchanged agent default'])
  })
})

describe('formatValue', () => {
  it('shortens multi-line text and says how long it is', () => {
    expect(formatValue('You are helpful.\nBe brief.\nBe kind.')).toBe('"You are helpful.…" (3 lines)')
    expect(formatValue('x'.repeat(100))).toBe(`"${'x'.repeat(40)}…" (100 chars)`)
    expect(formatValue(undefined)).toBe('(none)')
    expect(formatValue(['a.com'])).toBe('["a.com"]')
  })

  it('marks two different texts that shorten alike as changed', () => {
    const [, line] = renderPlan({changes: [{kind: 'agent', id: 'a', action: 'update', fields: [{path: 'files.soul', before: 'A\nb', after: 'A\nc'}]}]})
    expect(line).toBe('    files.soul: "A…" (2 lines) → (changed)')
  })
})

describe('summary lines', () => {
  it('counts every action', () => {
    expect(summaryLine({create: 1, update: 2, delete: 0, noop: 3})).toBe('Plan: 1 to create, 2 to update, 0 to delete, 3 unchanged.')
    expect(appliedLine({create: 1, update: 2, delete: 0, noop: 3})).toBe('Applied: 1 created, 2 updated, 0 deleted, 3 unchanged.')
  })

  it('gives one line per agent for lobu run', () => {
    expect(agentSummaryLines({changes})).toEqual([
      'agent support: updated (providers[0].model, mcp.docs, description)',
      'agent sales: created',
      'agent old: deleted',
      'agent default: unchanged',
    ])
  })
})

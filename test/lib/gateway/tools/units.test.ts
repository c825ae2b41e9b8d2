import {describe, expect, it} from 'vitest'

import {offeredNames} from '../../../../src/lib/gateway/tools/naming.js'
import {isOffered, matchesPattern, networkRefusal, stdioRefusal, toolStatus} from '../../../../src/lib/gateway/tools/policy.js'
import {capResult, fromCallResult, summarize} from '../../../../src/lib/gateway/tools/results.js'

describe('offered tool names', () => {
  it('are <server>__<tool> when valid, else sanitised, ≤ 64 chars and unique', () => {
    const names = offeredNames([
      {server: 'files', tool: 'read_file'},
      {server: 'my.server', tool: 'do thing'},
      {server: 'a', tool: 'x'.repeat(80)},
      {server: 'a', tool: `${'x'.repeat(80)}y`},
      {server: 'b_', tool: '_c'},
      {server: 'b', tool: '__c'},
    ])
    expect(names[0]).toBe('files__read_file')
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
    expect(new Set(names).size).toBe(names.length)
    expect(names[1]).toMatch(/^my_server__do_thing_[0-9a-f]{6}$/)
  })
})

describe('tool policy', () => {
  const tools = {allowed: [], denied: ['/mcp/files/tools/move_file'], preApproved: ['/mcp/docs/tools/*']}
  it('matches /mcp/<server>/tools/<name|*>', () => {
    expect(matchesPattern('/mcp/files/tools/*', 'files', 'x')).toBe(true)
    expect(matchesPattern('/mcp/files/tools/x', 'files', 'y')).toBe(false)
    expect(matchesPattern('/mcp/files/tools/x', 'other', 'x')).toBe(false)
  })
  it('denied wins; allowed restricts; read-only, pre-approved, granted, needs-approval', () => {
    expect(isOffered(tools, 'files', 'move_file')).toBe(false)
    expect(isOffered({...tools, allowed: ['/mcp/docs/tools/*']}, 'files', 'read')).toBe(false)
    expect(isOffered({...tools, allowed: ['/mcp/files/tools/*']}, 'files', 'move_file')).toBe(false)
    expect(toolStatus(tools, {server: 'files', tool: 'move_file', readOnly: true}, undefined)).toBe('denied')
    expect(toolStatus(tools, {server: 'files', tool: 'read', readOnly: true}, undefined)).toBe('read-only')
    expect(toolStatus(tools, {server: 'docs', tool: 'write', readOnly: false}, undefined)).toBe('pre-approved')
    expect(toolStatus(tools, {server: 'files', tool: 'write', readOnly: false}, {expiresAt: null})).toBe('granted')
    expect(toolStatus(tools, {server: 'files', tool: 'write', readOnly: false}, undefined)).toBe('needs-approval')
  })
  it('network lists: denied, then allowed when set (a leading dot: any subdomain)', () => {
    expect(networkRefusal({allowed: [], denied: []}, 'https://x.example.com/mcp')).toBeUndefined()
    expect(networkRefusal({allowed: ['.example.com'], denied: []}, 'https://x.example.com/mcp')).toBeUndefined()
    expect(networkRefusal({allowed: ['example.com'], denied: []}, 'https://x.example.com/mcp')).toContain('not in')
    expect(networkRefusal({allowed: [], denied: ['.example.com']}, 'https://example.com/mcp')).toContain('denied')
  })
  it('stdio servers on a PostgreSQL gateway need LOBU_ALLOW_STDIO_MCP=1', () => {
    const agents = [{id: 'a', mcp: {s: {type: 'stdio'}}}]
    expect(stdioRefusal('pglite', {}, agents)).toBeUndefined()
    expect(stdioRefusal('postgres', {LOBU_ALLOW_STDIO_MCP: '1'}, agents)).toBeUndefined()
    expect(stdioRefusal('postgres', {}, agents)).toMatchObject({agent: 'a', server: 's'})
  })
})

describe('tool results', () => {
  it('are text: images and resources become one line; over 100 kB is cut with a note', () => {
    const r = fromCallResult({content: [{type: 'text', text: 'hi'}, {type: 'image', mimeType: 'image/png', data: 'aGVsbG8='}, {type: 'resource', resource: {uri: 'file:///x', text: 'secret'}}]})
    expect(r.content).toBe('hi\n[image image/png, 6 B omitted]\n[resource file:///x omitted]')
    expect(r.ok).toBe(true)
    expect(fromCallResult({content: [{type: 'text', text: 'bad'}], isError: true}).ok).toBe(false)
    const cut = capResult('é'.repeat(100_000), 1000)
    expect(Buffer.byteLength(cut.split('\n')[0]!)).toBeLessThanOrEqual(1000)
    expect(cut).toContain('[output cut: 200000 bytes')
  })
  it('summaries are one line without control characters', () => {
    expect(summarize('\u001b[31mred\u001b[0m\nnext')).toBe('[31mred [0m next')
    expect(summarize('x'.repeat(600))).toHaveLength(500)
  })
})

describe('timeout_ms through apply', () => {
  it('lobu.toml timeout_ms becomes the spec timeoutMs the apply schema accepts', async () => {
    const {parsePlanRequest} = await import('../../../../src/lib/gateway/apply/schema.js')
    const agent = {id: 'a', name: 'A', files: {skills: []}, providers: [], mcp: {s: {type: 'streamable-http', url: 'https://x.example.com/mcp', timeoutMs: 5000}}, network: {allowed: [], denied: []}, tools: {preApproved: [], allowed: [], denied: []}}
    const ok = parsePlanRequest({project: 'p-1', agents: [agent], secrets: {}})
    expect(ok.ok && ok.value.desired.agents[0]!.mcp.s!.timeoutMs).toBe(5000)
    const bad = parsePlanRequest({project: 'p-1', agents: [{...agent, mcp: {s: {...agent.mcp.s, timeoutMs: -1}}}], secrets: {}})
    expect(bad.ok).toBe(false)
  })
})

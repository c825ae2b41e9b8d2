import stringWidth from 'string-width'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ApiClient} from '../../../src/lib/client/index.js'
import {type AgentTools, listTools, parseToolPattern, renderTools, revokeGrants, statusText} from '../../../src/lib/tools/index.js'
import {startToolsLoopback, type ToolsLoopback} from '../../support/tools-loopback.js'

const ESC = '\u001b'
const now = new Date('2026-12-06T12:00:00Z')

const sample = {
  servers: [
    {
      id: 'files',
      type: 'stdio',
      state: 'connected',
      tools: [
        {name: 'read_text_file', description: 'Read the complete contents of a file from the file system.\nMore text.', readOnly: true, status: 'read-only'},
        {name: 'write_file', description: 'Create a new file or completely overwrite an existing file.', readOnly: false, status: 'needs-approval'},
        {name: 'edit_file', description: 'Make line-based edits.', readOnly: false, status: 'granted', grantExpiresAt: '2026-12-06T13:00:00Z'},
        {name: 'move_file', description: '', readOnly: false, status: 'pre-approved'},
        {name: 'delete_file', description: 'Gone.', readOnly: false, status: 'denied'},
      ],
    },
    {id: 'github', type: 'streamable-http', state: 'failed', error: `connect ECONNREFUSED 127.0.0.1:9${ESC}[2J`, tools: []},
  ],
}

describe('lobu tools: listing', () => {
  let gw: ToolsLoopback
  let client: ApiClient
  beforeAll(async () => {
    gw = await startToolsLoopback()
    gw.tools.support = sample
    gw.tools.empty = {servers: []}
    client = new ApiClient({baseUrl: gw.url, token: gw.token})
  })
  afterAll(async () => {
    await gw?.close()
  })

  it('asks GET /api/v1/agents/:id/tools and keeps the servers and tools as sent', async () => {
    const data = await listTools(client, 'support')
    expect(data.agentId).toBe('support')
    expect(data.servers.map((s) => s.id)).toEqual(['files', 'github'])
    expect(data.servers[0]!.tools[2]).toMatchObject({status: 'granted', grantExpiresAt: '2026-12-06T13:00:00Z'})
    expect(gw.seen.at(-1)).toMatchObject({method: 'GET', url: '/api/v1/agents/support/tools'})
    // An agent the gateway does not show is its 403 (exit 3).
    await expect(listTools(client, 'nope')).rejects.toMatchObject({kind: 'auth'})
  })

  it('renders a table: each server with its state, each tool with its status and description', async () => {
    const text = renderTools(await listTools(client, 'support'), {width: 140, now})
    const lines = text.split('\n')
    expect(lines[0]).toBe('files  stdio  connected  5 tools')
    expect(lines[1]).toMatch(/^ {2}read_text_file +read-only +Read the complete contents of a file from the file system\.$/)
    expect(lines[2]).toMatch(/^ {2}write_file +needs approval +Create a new file/)
    expect(lines[3]).toMatch(/^ {2}edit_file +granted until 2026-12-06 13:00 UTC +Make line-based edits\.$/)
    expect(lines[4]).toBe('  move_file       pre-approved')
    expect(lines[5]).toMatch(/^ {2}delete_file +denied +Gone\.$/)
    expect(text).toContain('github  streamable-http  failed\n  connect ECONNREFUSED 127.0.0.1:9␛[2J\n')
    expect(text).not.toContain(ESC)
    // The status column starts at the same place on every row.
    const col = lines[1]!.indexOf('read-only')
    for (const l of lines.slice(2, 6)) expect(l.slice(col)).toMatch(/^(needs approval|granted|pre-approved|denied)/)
    for (const l of text.split('\n')) expect(stringWidth(l)).toBeLessThanOrEqual(140)
  })

  it('cuts descriptions to the width, and names an agent without servers', async () => {
    for (const width of [60, 72]) {
      const narrow = renderTools(await listTools(client, 'support'), {width, now})
      // Every line fits, but a server's error, which is shown whole.
      for (const l of narrow.split('\n').filter((l) => !l.includes('ECONNREFUSED'))) expect(stringWidth(l), l).toBeLessThanOrEqual(width)
      expect(narrow).toContain('  write_file      needs approval')
    }
    expect(renderTools(await listTools(client, 'support'), {width: 72, now})).toMatch(/^ {2}read_text_file +read-only +Read the complete…$/m)
    expect(renderTools(await listTools(client, 'empty'))).toContain('Agent empty has no MCP servers.')
  })

  it('statuses for people; tool names and statuses from the server are neutralised', () => {
    expect(statusText({name: 'x', status: 'granted'}, now)).toBe('granted (always)')
    expect(statusText({name: 'x', status: 'granted', grantExpiresAt: '2026-12-06T11:00:00Z'}, now)).toBe('granted until 2026-12-06 11:00 UTC (1 hour ago)')
    expect(statusText({name: 'x', status: 'needs-approval'}, now)).toBe('needs approval')
    const evil: AgentTools = {agentId: 'a', servers: [{id: `s${ESC}]0;title\u0007`, type: 'stdio', state: 'connected', tools: [{name: `t${ESC}[1A`, status: `odd${ESC}[5m`}]}]}
    const text = renderTools(evil)
    expect(text).not.toMatch(/[\u0000-\u0009\u000B-\u001F\u007F-\u009F]/)
    expect(text).toContain('s␛]0;title␇')
  })
})

describe('lobu tools revoke', () => {
  let gw: ToolsLoopback
  let client: ApiClient
  beforeAll(async () => {
    gw = await startToolsLoopback()
    client = new ApiClient({baseUrl: gw.url, token: gw.token})
  })
  afterAll(async () => {
    await gw?.close()
  })

  it('sends the pattern to DELETE …/tools/grants and returns how many were removed', async () => {
    gw.grants.support = ['/mcp/files/tools/write_file', '/mcp/files/tools/edit_file', '/mcp/git/tools/commit']
    expect(await revokeGrants(client, 'support', '/mcp/files/tools/write_file')).toEqual({agentId: 'support', pattern: '/mcp/files/tools/write_file', removed: 1})
    expect(gw.seen.at(-1)).toMatchObject({method: 'DELETE', url: '/api/v1/agents/support/tools/grants?pattern=%2Fmcp%2Ffiles%2Ftools%2Fwrite_file'})
    expect((await revokeGrants(client, 'support', '/mcp/files/tools/*')).removed).toBe(1)
    expect((await revokeGrants(client, 'support', '/mcp/files/tools/*')).removed).toBe(0)
    expect(gw.grants.support).toEqual(['/mcp/git/tools/commit'])
  })

  it('a malformed pattern is a usage error (exit 2) before anything is sent', async () => {
    const before = gw.seen.length
    for (const bad of ['files', '/mcp/files/tools', '/mcp/*/tools/*', '/mcp/files/tools/a/b', '/mcp//tools/x', '/mcp/files/tool/x', `/mcp/f/tools/x${ESC}`, '/mcp/files/tools/wr*te']) {
      expect(() => parseToolPattern(bad), bad).toThrow(expect.objectContaining({kind: 'usage', code: 'INVALID_PATTERN'}))
      await expect(revokeGrants(client, 'support', bad)).rejects.toMatchObject({kind: 'usage'})
    }
    expect(gw.seen.length).toBe(before)
    expect(parseToolPattern('/mcp/files/tools/*')).toEqual({server: 'files', tool: '*'})
    expect(parseToolPattern('/mcp/my.server-1/tools/read_text_file')).toEqual({server: 'my.server-1', tool: 'read_text_file'})
  })
})

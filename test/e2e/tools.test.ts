/**
 * The CLI side of tools, end to end: the built CLI against a loopback server speaking the
 * gateway's tool routes and events (test/support/tools-loopback.ts). Without a terminal (execa's
 * stdin is not a TTY) a call that needs approval is denied.
 */
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {oneToolTurn, startToolsLoopback, type ToolsLoopback} from '../support/tools-loopback.js'
import {createSandbox, runLobu, type Sandbox} from './helpers.js'

/** stderr without oclif's own warnings (under NODE_ENV=test it looks for TypeScript sources and says so). */
const errOf = (r: {stderr: string}) => r.stderr.replace(/^ › .*\n/gm, '')

describe('lobu tools and tool calls in lobu chat', () => {
  let gw: ToolsLoopback
  let sandbox: Sandbox
  let env: Record<string, string>
  const lobu = (args: string[]) => runLobu([...args, '-c', 'lb'], {sandbox, env})

  beforeAll(async () => {
    gw = await startToolsLoopback()
    sandbox = await createSandbox()
    env = {LOBU_TOKEN: gw.token}
    const added = await runLobu(['context', 'add', 'lb', '--url', gw.url], {sandbox})
    expect(added.exitCode, added.stderr).toBe(0)
  })
  afterAll(async () => {
    await gw?.close()
    await sandbox?.cleanup()
  })
  beforeEach(() => {
    gw.decisions.length = 0
  })

  it('--help of both commands, with examples', async () => {
    for (const cmd of [['tools'], ['tools', 'revoke']]) {
      const r = await runLobu([...cmd, '--help'], {sandbox})
      expect(r.exitCode, cmd.join(' ')).toBe(0)
      expect(r.stdout).toContain('EXAMPLES')
    }
    const chat = await runLobu(['chat', '--help'], {sandbox})
    expect(chat.stdout).toContain('--auto-approve')
    expect(chat.stdout).toMatch(/--dry-run\s+Run no tool that has side effects/)
  })

  it('lists servers and tools, as a table and as JSON', async () => {
    gw.tools.support = {
      servers: [
        {id: 'files', type: 'stdio', state: 'connected', tools: [{name: 'write_file', description: 'Write a file', readOnly: false, status: 'needs-approval'}]},
        {id: 'gh', type: 'streamable-http', state: 'failed', error: 'HTTP 401 from the server', tools: []},
      ],
    }
    const r = await lobu(['tools', '-a', 'support'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toContain('files  stdio  connected  1 tool\n  write_file  needs approval  Write a file\n')
    expect(r.stdout).toContain('gh  streamable-http  failed\n  HTTP 401 from the server\n')
    const j = await lobu(['tools', '-a', 'support', '--json'])
    expect(j.exitCode).toBe(0)
    expect(j.json()).toEqual({agentId: 'support', ...(gw.tools.support as object)})
  })

  it('revoke: a bad pattern exits 2 with one line and a hint; a good one says how many were removed', async () => {
    const bad = await lobu(['tools', 'revoke', 'write_file', '-a', 'support'])
    expect(bad.exitCode).toBe(2)
    expect(errOf(bad)).toMatch(/^Error: invalid tool pattern "write_file": expected \/mcp\/<server>\/tools\/<tool>/)
    expect(bad.stderr).toContain('Hint:')
    gw.grants.support = ['/mcp/files/tools/write_file', '/mcp/files/tools/move_file']
    const r = await lobu(['tools', 'revoke', '/mcp/files/tools/*', '-a', 'support'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(errOf(r)).toBe('Removed 2 grants matching /mcp/files/tools/* (agent support)\n')
    const none = await lobu(['tools', 'revoke', '/mcp/files/tools/*', '-a', 'support', '--json'])
    expect(none.json()).toEqual({agentId: 'support', pattern: '/mcp/files/tools/*', removed: 0})
  })

  it('chat without a terminal: a call that needs approval is denied, and stderr says how to allow it', async () => {
    gw.turns.push(oneToolTurn({approval: true, text: 'I could not write it.'}))
    const r = await lobu(['chat', '-a', 'support', 'write a.txt'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toBe('I could not write it.\n')
    expect(gw.decisions.map((d) => d.decision)).toEqual(['deny'])
    expect(r.stderr).toContain('⚙ files.write_file {"path":"a.txt","content":"hi"}\n')
    expect(r.stderr).toContain('Denied files.write_file: it needs approval and there is no terminal to ask on.')
    expect(r.stderr).toContain('--auto-approve')
    expect(r.stderr).toContain('[agents.support.tools] pre_approved = ["/mcp/files/tools/write_file"]')
    expect(r.stderr).toContain('⚙ files.write_file ✗ denied\n')
  })

  it('chat --auto-approve approves once; --dry-run sends dryRun', async () => {
    gw.turns.push(oneToolTurn({approval: true}))
    const auto = await lobu(['chat', '-a', 'support', '--auto-approve', 'write a.txt'])
    expect(auto.exitCode, auto.stderr).toBe(0)
    expect(gw.decisions.map((d) => d.decision)).toEqual(['once'])
    expect(errOf(auto)).toBe('⚙ files.write_file {"path":"a.txt","content":"hi"} ✓ 12 ms\n')

    gw.turns.push(oneToolTurn({approval: true}))
    const dry = await lobu(['chat', '-a', 'support', '--dry-run', '--auto-approve', 'write a.txt'])
    expect(dry.exitCode, dry.stderr).toBe(0)
    expect(JSON.parse(gw.seen.filter((s) => s.url.endsWith('/messages')).at(-1)!.body)).toEqual({content: 'write a.txt', dryRun: true})
    expect(errOf(dry)).toBe('⚙ files.write_file {"path":"a.txt","content":"hi"} – skipped (dry run)\n')
    expect(gw.decisions.map((d) => d.decision)).toEqual(['once'])
  })
})

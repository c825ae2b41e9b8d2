/**
 * `lobu agents list|show` and `lobu secrets set|list|unset` against a test gateway, built CLI.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {decryptSecret} from '../../src/lib/gateway/crypto/index.js'
import {startTestGateway, type TestGateway} from '../support/gateway.js'
import {createSandbox, runLobu, type Sandbox} from './helpers.js'

describe('lobu agents and lobu secrets', () => {
  let gw: TestGateway
  let sandbox: Sandbox
  let orgId: string
  const lobu = (args: string[], opts: {input?: string} = {}) => runLobu([...args, '-c', 'gw'], {sandbox, env: {LOBU_TOKEN: gw.adminToken}, input: opts.input})

  beforeAll(async () => {
    gw = await startTestGateway()
    orgId = (await gw.api('/api/v1/whoami')).body.org.id
    const put = await gw.api('/api/v1/agents/support', {
      method: 'PUT',
      body: {
        name: 'Support',
        description: 'Answers \u001B]52;c;eA==\u0007 tickets',
        providers: [{id: 'openai', model: 'gpt-4o-mini', key: {kind: 'secret', name: 'SUPPORT_OPENAI_KEY'}}],
        mcp: {files: {type: 'stdio', command: 'npx', args: ['-y', 'files'], env: {TOKEN: 'do-not-show'}}},
        tools: {preApproved: ['/mcp/files/tools/read'], allowed: [], denied: ['/mcp/files/tools/delete']},
      },
    })
    expect(put.status, put.text).toBe(201)
    sandbox = await createSandbox()
    const added = await runLobu(['context', 'add', 'gw', '--url', gw.url], {sandbox})
    expect(added.exitCode, added.stderr).toBe(0)
  })
  afterAll(async () => {
    await gw?.close()
    await sandbox?.cleanup()
  })

  it('agents list shows each agent with its providers, MCP servers and manager; --json the API body', async () => {
    const r = await lobu(['agents', 'list'])
    expect(r.exitCode, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+NAME\s+PROVIDERS\s+MCP\s+MANAGED BY\s+UPDATED$/)
    expect(r.stdout).toMatch(/support\s+Support\s+openai\/gpt-4o-mini\s+files\s+hand-made/)
    expect(r.stdout).toMatch(/^default\s/m)
    const json = (await lobu(['agents', 'list', '--json'])).json<Array<{id: string; providers: unknown[]; managedBy: string | null}>>()
    expect(json.map((a) => a.id).sort()).toEqual(['default', 'support'])
    expect(json.find((a) => a.id === 'support')).toMatchObject({providers: [{id: 'openai', model: 'gpt-4o-mini', keySource: 'secret:SUPPORT_OPENAI_KEY'}], managedBy: null})
  })

  it('agents show names where each key comes from, the MCP servers and tool rules, never a value; a missing agent exits 1 with the hint', async () => {
    const r = await lobu(['agents', 'show', 'support'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toContain('openai  gpt-4o-mini  key: org secret SUPPORT_OPENAI_KEY')
    expect(r.stdout).toMatch(/files\s+stdio\s+npx\s+\(env TOKEN\)/)
    expect(r.stdout).toContain('pre-approved: /mcp/files/tools/read')
    expect(r.stdout).toContain('denied:       /mcp/files/tools/delete')
    expect(r.stdout).not.toContain('do-not-show')
    // Server text reaches the terminal neutralised.
    expect(r.stdout).not.toContain('\u001B')
    expect(r.stdout).toContain('Answers ␛]52;c;eA==␇ tickets')
    const json = (await lobu(['agents', 'show', 'support', '--json'])).json<{id: string; mcpServers: Record<string, {envNames: string[]}>}>()
    expect(json.mcpServers.files.envNames).toEqual(['TOKEN'])
    const missing = await lobu(['agents', 'show', 'nope'])
    expect(missing.exitCode).toBe(1)
    expect(missing.stderr).toContain('agent "nope" does not exist')
    expect(missing.stderr).toContain('Hint: lobu agents list')
  })

  it('secrets set reads the value from stdin, list shows names and users but never a value, unset needs --yes without a terminal', async () => {
    const set = await lobu(['secrets', 'set', 'SUPPORT_OPENAI_KEY'], {input: '  sk-live-value\n'})
    expect(set.exitCode, set.stderr).toBe(0)
    expect(set.stderr).toContain('Created secret SUPPORT_OPENAI_KEY on gw; used by support')
    const row = await gw.store.secrets.get(orgId, 'SUPPORT_OPENAI_KEY')
    expect(decryptSecret(gw.gateway.installKey, row!.ciphertext)).toBe('sk-live-value')

    const again = await lobu(['secrets', 'set', 'SUPPORT_OPENAI_KEY', '--json'], {input: 'sk-other'})
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.json()).toMatchObject({name: 'SUPPORT_OPENAI_KEY', created: false, usedBy: ['support']})
    expect(again.stdout).not.toContain('sk-other')

    const list = await lobu(['secrets', 'list'])
    expect(list.exitCode, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/^NAME\s+USED BY\s+CREATED\s+UPDATED$/m)
    expect(list.stdout).toMatch(/^SUPPORT_OPENAI_KEY\s+support\s/m)
    expect(list.stdout + list.stderr).not.toContain('sk-')
    const listed = (await lobu(['secrets', 'list', '--json'])).json<Array<Record<string, unknown>>>()
    expect(listed).toEqual([{name: 'SUPPORT_OPENAI_KEY', createdAt: expect.any(String), updatedAt: expect.any(String), usedBy: ['support']}])

    const empty = await lobu(['secrets', 'set', 'EMPTY_ONE'], {input: '\n'})
    expect(empty.exitCode).toBe(2)
    expect(empty.stderr).toContain('the value is empty')
    const badName = await lobu(['secrets', 'set', '9-bad'], {input: 'x'})
    expect(badName.exitCode).toBe(2)
    expect(badName.stderr).toContain('is not a secret name')

    const unasked = await lobu(['secrets', 'unset', 'SUPPORT_OPENAI_KEY'])
    expect(unasked.exitCode).toBe(2)
    expect(unasked.stderr).toContain('--yes')
    expect(await gw.store.secrets.get(orgId, 'SUPPORT_OPENAI_KEY')).toBeDefined()
    const unset = await lobu(['secrets', 'unset', 'SUPPORT_OPENAI_KEY', '--yes'])
    expect(unset.exitCode, unset.stderr).toBe(0)
    expect(await gw.store.secrets.get(orgId, 'SUPPORT_OPENAI_KEY')).toBeUndefined()
    const gone = await lobu(['secrets', 'unset', 'SUPPORT_OPENAI_KEY', '--yes'])
    expect(gone.exitCode).toBe(1)
    expect(gone.stderr).toContain('no secret SUPPORT_OPENAI_KEY')
  })

  it('the secrets routes need agents:read to list and agents:write to change', async () => {
    const reader = (await gw.api('/api/v1/tokens', {method: 'POST', body: {name: 'r', scopes: ['agents:read']}})).body.token
    expect((await gw.api('/api/v1/secrets', {token: reader})).status).toBe(200)
    const denied = await gw.api('/api/v1/secrets/X_KEY', {method: 'PUT', body: {value: 'v'}, token: reader})
    expect(denied.status).toBe(403)
    expect(denied.text).toContain('agents:write')
  })
})

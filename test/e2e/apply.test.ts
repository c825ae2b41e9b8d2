/**
 * `lobu apply` end to end: the built CLI against a real gateway (startTestGateway), reached
 * through a small counting proxy so a test can tell that nothing was sent.
 */
import {mkdir, writeFile} from 'node:fs/promises'
import {type Server, createServer, request} from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type TestGateway, startTestGateway} from '../support/gateway.js'
import {type RunResult, type Sandbox, createSandbox, runLobu} from './helpers.js'

const KEY = 'sk-e2e-apply-key-6f1d0c9a2b'
const ROTATED = 'sk-e2e-apply-rotated-77aa31'

const TOML = (model: string) => `
[project]
id = "e2e-apply-3f9a2c"

[agents.support]
name = "Support"
dir = "./agents/support"

[[agents.support.providers]]
id = "openai"
model = "${model}"
key = "$OPENAI_API_KEY"

[agents.support.network]
allowed = ["api.openai.com"]
`

/** Forwards every request to `target` and counts them. */
async function countingProxy(target: string): Promise<{url: string; count(): number; close(): Promise<void>}> {
  let requests = 0
  const server: Server = createServer((req, res) => {
    requests++
    const upstream = request(target + (req.url ?? '/'), {method: req.method, headers: req.headers, agent: false}, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    upstream.on('error', () => res.writeHead(502).end())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {url: `http://127.0.0.1:${port}`, count: () => requests, close: () => new Promise((r) => server.close(() => r()))}
}

describe('lobu apply (e2e)', () => {
  let gw: TestGateway
  let proxy: Awaited<ReturnType<typeof countingProxy>>
  let sandbox: Sandbox
  let project: string
  const outputs: string[] = []

  async function lobu(args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
    const r = await runLobu(['apply', '-c', 'e2e', ...args], {
      sandbox,
      cwd: project,
      env: {LOBU_TOKEN: gw.adminToken, OPENAI_API_KEY: KEY, ...env},
    })
    outputs.push(r.stdout, r.stderr)
    return r
  }

  async function model(): Promise<string | undefined> {
    const res = await gw.api('/api/v1/agents/support')
    return res.status === 200 ? res.body.providers[0]?.model : undefined
  }

  beforeAll(async () => {
    gw = await startTestGateway()
    proxy = await countingProxy(gw.url)
    sandbox = await createSandbox()
    project = path.join(sandbox.work, 'desk')
    await mkdir(path.join(project, 'agents/support'), {recursive: true})
    await writeFile(path.join(project, 'agents/support/IDENTITY.md'), 'You answer product questions.\n')
    await writeFile(path.join(project, 'lobu.toml'), TOML('gpt-4o'))
    const added = await runLobu(['context', 'add', 'e2e', '--url', proxy.url], {sandbox})
    expect(added.exitCode).toBe(0)
  })

  afterAll(async () => {
    // S7: the key values never appear in any output of any run.
    for (const text of outputs) {
      expect(text).not.toContain(KEY)
      expect(text).not.toContain(ROTATED)
    }
    await proxy?.close()
    await gw?.close()
    await sandbox?.cleanup()
  })

  it('exits 2 listing every missing $NAME, and sends nothing', async () => {
    await writeFile(path.join(project, 'lobu.toml'), TOML('gpt-4o') + `\n[[agents.support.providers]]\nid = "anthropic"\nmodel = "claude-sonnet-4-5"\nkey = "$ANTHROPIC_API_KEY"\n`)
    const before = proxy.count()
    const r = await lobu(['--yes'], {OPENAI_API_KEY: undefined})
    await writeFile(path.join(project, 'lobu.toml'), TOML('gpt-4o'))
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^Error: .*OPENAI_API_KEY.*ANTHROPIC_API_KEY|^Error: .*ANTHROPIC_API_KEY.*OPENAI_API_KEY/m)
    expect(r.stdout).toBe('')
    expect(proxy.count()).toBe(before)
  })

  it('--dry-run --detailed-exitcode shows the plan, changes nothing and exits 2', async () => {
    const r = await lobu(['--dry-run', '--detailed-exitcode'])
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toContain('+ create agent support')
    expect(r.stdout).toContain('    providers[0].model: "gpt-4o"')
    expect(r.stdout).toContain('+ secret OPENAI_API_KEY (new)')
    expect(r.stdout).toContain('Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.')
    expect(await model()).toBeUndefined()
  })

  it('refuses to apply without --yes when not on a terminal (exit 2)', async () => {
    const r = await lobu([])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Error: refusing to apply without --yes in non-interactive mode')
    expect(await model()).toBeUndefined()
  })

  it('applies with --yes, then finds nothing to change (detailed exit 0)', async () => {
    const first = await lobu(['--yes'])
    expect(first.exitCode).toBe(0)
    expect(first.stdout).toContain('Applied: 2 created, 0 updated, 0 deleted, 0 unchanged.')
    expect(await model()).toBe('gpt-4o')

    const second = await lobu(['--yes', '--detailed-exitcode'])
    expect(second.exitCode).toBe(0)
    expect(second.stdout).toContain('= unchanged agent support')
    expect(second.stdout).toContain('Plan: 0 to create, 0 to update, 0 to delete, 2 unchanged.')
    expect(second.stdout).not.toContain('Applied:')
  })

  it('shows a field diff and a rotated key as "value changed", and --json prints only the result', async () => {
    await writeFile(path.join(project, 'lobu.toml'), TOML('gpt-4o-mini'))
    const dry = await lobu(['--dry-run'], {OPENAI_API_KEY: ROTATED})
    expect(dry.exitCode).toBe(0)
    expect(dry.stdout).toContain('~ update agent support\n    providers[0].model: "gpt-4o" → "gpt-4o-mini"')
    expect(dry.stdout).toContain('~ secret OPENAI_API_KEY (value changed)')

    const r = await lobu(['--yes', '--json', '--detailed-exitcode'], {OPENAI_API_KEY: ROTATED})
    expect(r.exitCode).toBe(2)
    const out = r.json<{plan: {changes: unknown[]}; applied: {applied: boolean}; summary: Record<string, number>}>()
    expect(Object.keys(out).sort()).toEqual(['applied', 'plan', 'summary', 'target'])
    expect(out.applied.applied).toBe(true)
    expect(out.summary).toEqual({create: 0, update: 2, delete: 0, noop: 0})
    expect(await model()).toBe('gpt-4o-mini')
  })

  it('refuses --prune without a project id (exit 2), before any request', async () => {
    await writeFile(path.join(project, 'lobu.toml'), TOML('gpt-4o-mini').replace('[project]\nid = "e2e-apply-3f9a2c"\n', ''))
    const before = proxy.count()
    const r = await lobu(['--yes', '--prune'])
    await writeFile(path.join(project, 'lobu.toml'), TOML('gpt-4o-mini'))
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('--prune needs a project id in lobu.toml')
    expect(proxy.count()).toBe(before)
  })
})

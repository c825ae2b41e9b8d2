/**
 * Tools end to end with the real gateway: a `lobu init` project with the reference filesystem
 * server in lobu.toml, `lobu chat` booting the embedded gateway for each command, the fake
 * provider calling tools. Without a terminal a write is denied (nothing written); --dry-run writes
 * nothing even with --auto-approve; --auto-approve writes; `lobu tools` shows the statuses; no
 * server process outlives `lobu run` (SIGINT or kill -9).
 */
import {existsSync, readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {appendFile, mkdir, writeFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import path from 'node:path'

import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {startFakeProvider, type FakeProvider, type FakeTurn} from '../support/fake-provider.js'
import {createSandbox, freePort, runLobu, spawnLobu, waitForHealth, type Sandbox} from './helpers.js'

const require = createRequire(import.meta.url)
const FS_SERVER = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js')
const toolText = (t: FakeTurn) => t.messages.filter((m) => m.role === 'tool').map((m) => m.content).join(' | ')

describe('lobu chat with an MCP server in lobu.toml (embedded gateway)', () => {
  let fake: FakeProvider
  let sandbox: Sandbox
  let dir: string
  let env: Record<string, string>
  let port: number
  const gatewayUrl = () => `http://127.0.0.1:${port}`
  const lobu = (args: string[]) => runLobu(args, {sandbox, env, cwd: dir, timeout: 90_000})

  beforeAll(async () => {
    fake = await startFakeProvider()
    sandbox = await createSandbox()
    env = {OPENAI_API_KEY: 'sk-tools-e2e', OPENAI_BASE_URL: fake.urls.openai}
    port = await freePort()
    const init = await runLobu(['init', 'demo', '--yes', '--port', String(port)], {sandbox, env})
    expect(init.exitCode, init.stderr).toBe(0)
    dir = path.join(sandbox.work, 'demo')
    await mkdir(path.join(dir, 'docs'))
    await writeFile(path.join(dir, 'docs', 'guide.md'), '# Guide\n')
    await appendFile(
      path.join(dir, 'lobu.toml'),
      `\n[agents.demo.skills.mcp.files]\ntype = "stdio"\ncommand = ${JSON.stringify(process.execPath)}\nargs = [${JSON.stringify(FS_SERVER)}, "./docs"]\n`,
    )
  }, 120_000)
  afterAll(async () => {
    await fake?.close()
    await sandbox?.cleanup()
  })
  beforeEach(() => fake.reset())

  it('lists the files of docs/ through a read-only call', async () => {
    fake.script({toolCalls: [{name: 'files__list_directory', arguments: {path: path.join(dir, 'docs')}}]}, (t) => `docs/ holds: ${toolText(t)}`)
    const r = await lobu(['chat', 'what is in docs/?'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toContain('docs/ holds: [FILE] guide.md')
    expect(r.stderr).toContain('files.list_directory')
  })

  it('without a terminal a write is denied and nothing is written; --dry-run writes nothing; --auto-approve writes', async () => {
    const target = path.join(dir, 'docs', 'new.md')
    const write = {toolCalls: [{name: 'files__write_file', arguments: {path: target, content: 'new'}}]}
    fake.script(write, (t) => `result: ${toolText(t)}`)
    const denied = await lobu(['chat', 'write new.md'])
    expect(denied.exitCode, denied.stderr).toBe(0)
    expect(existsSync(target)).toBe(false)
    expect(denied.stdout).toContain('did not allow')

    fake.script(write, (t) => `result: ${toolText(t)}`)
    const dry = await lobu(['chat', '--dry-run', '--auto-approve', 'write new.md'])
    expect(dry.exitCode, dry.stderr).toBe(0)
    expect(existsSync(target)).toBe(false)
    expect(dry.stdout).toContain('skipped: dry run')

    fake.script(write, 'written')
    const approved = await lobu(['chat', '--auto-approve', 'write new.md'])
    expect(approved.exitCode, approved.stderr).toBe(0)
    expect(readFileSync(target, 'utf8')).toBe('new')
  })

  it('lobu tools against `lobu run`; no server process is left after SIGINT or kill -9 of `lobu run`', async () => {
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      const run = await spawnLobu(['run'], {sandbox, env, cwd: dir})
      try {
        await waitForHealth(gatewayUrl(), run)
        const r = await lobu(['tools', '-a', 'demo', '--json'])
        expect(r.exitCode, r.stderr).toBe(0)
        const files = r.json<{servers: {id: string; state: string; tools: {name: string; status: string}[]}[]}>().servers.find((s) => s.id === 'files')!
        expect(files.state).toBe('connected')
        expect(files.tools.find((t) => t.name === 'read_text_file')?.status).toBe('read-only')
        expect(files.tools.find((t) => t.name === 'write_file')?.status).toBe('needs-approval')
        expect(serverPids(dir).length).toBeGreaterThan(0)
      } finally {
        run.child.kill(signal)
        await run.exited
      }
      expect(await noneWithin(dir, 5_000), signal).toBe(true)
    }
  })
})

/** Processes running this test's filesystem server: its command, in this project (read from /proc). */
function serverPids(dir: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (cmdline.includes(FS_SERVER) && readlinkSync(`/proc/${entry}/cwd`) === dir) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

async function noneWithin(dir: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (serverPids(dir).length === 0) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return serverPids(dir).length === 0
}

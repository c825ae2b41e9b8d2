import {chmodSync, mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {type DoctorReport, renderCheck, renderReport, runDoctor, summaryLine} from '../../../src/lib/doctor/index.js'
import {type TempDir, agentToml, tempDir, unusedPort, writeProject} from './helpers.js'

let tmp: TempDir
let env: NodeJS.ProcessEnv
let dir: string

beforeEach(async () => {
  tmp = tempDir()
  env = {HOME: join(tmp.root, 'home'), LOBU_CONFIG_DIR: join(tmp.root, 'cfg'), XDG_DATA_HOME: join(tmp.root, 'xdg')}
  dir = writeProject(join(tmp.root, 'demo'), `[gateway]\nport = ${await unusedPort()}\n\n` + agentToml('demo', ['id = "openai"\nkey = "$OPENAI_API_KEY"']))
})

afterEach(() => tmp.cleanup())

function tree(root: string): string[] {
  return readdirSync(root, {recursive: true, encoding: 'utf8'}).map((p) => relative(root, join(root, p))).sort()
}

describe('runDoctor', () => {
  it('runs every check in order; warnings alone keep ok true; nothing is written', async () => {
    const before = tree(tmp.root)
    const report = await runDoctor({env, cwd: dir, timeoutMs: 500, nodeVersion: '20.18.1'})
    expect(report.ok).toBe(true)
    expect(report.checks.map((c) => c.id)).toEqual([
      'node',
      'config-dir',
      'credentials',
      'lobu-toml',
      'env-refs',
      'providers:demo',
      'system-providers',
      'data-dir',
      'encryption-key',
      'port',
      'gateway:local',
    ])
    const warned = report.checks.filter((c) => c.status === 'warn')
    expect(warned.map((c) => c.id)).toEqual(['env-refs', 'providers:demo', 'system-providers'])
    expect(warned.every((c) => c.fix)).toBe(true)
    expect(report.checks.find((c) => c.id === 'env-refs')!.message).toContain('$OPENAI_API_KEY is not set')
    expect(tree(tmp.root)).toEqual(before)
  })

  it('is not ok when a check fails', async () => {
    mkdirSync(env.LOBU_CONFIG_DIR!, {mode: 0o700})
    writeFileSync(join(env.LOBU_CONFIG_DIR!, 'credentials.json'), '{"version":1,"tokens":{}}')
    chmodSync(join(env.LOBU_CONFIG_DIR!, 'credentials.json'), 0o644)
    const report = await runDoctor({env: {...env, OPENAI_API_KEY: 'sk'}, cwd: dir, timeoutMs: 500})
    expect(report.ok).toBe(false)
    expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['credentials'])
  })

  it('skips the project checks outside a project', async () => {
    const report = await runDoctor({env, cwd: tmp.root, timeoutMs: 500})
    const ids = report.checks.map((c) => c.id)
    expect(ids).toContain('lobu-toml')
    expect(ids).not.toContain('env-refs')
    expect(ids.some((id) => id.startsWith('providers:'))).toBe(false)
  })
})

describe('rendering', () => {
  const report: DoctorReport = {
    ok: false,
    checks: [
      {id: 'node', status: 'ok', message: 'Node.js 20.18.1'},
      {id: 'env-refs', status: 'warn', message: '2 variables are not set: $A, $B\nA: lobu.toml:3:7\nB: lobu.toml:9:7', fix: 'Set them'},
      {id: 'credentials', status: 'fail', message: 'credentials.json is mode 0644', fix: 'chmod 600 /x/credentials.json'},
    ],
  }

  it('prints ok/warn/fail words without colour, details and fixes indented', () => {
    expect(renderReport(report, {color: false})).toBe(
      [
        'ok   Node.js 20.18.1',
        'warn 2 variables are not set: $A, $B',
        '       A: lobu.toml:3:7',
        '       B: lobu.toml:9:7',
        '     fix: Set them',
        'fail credentials.json is mode 0644',
        '     fix: chmod 600 /x/credentials.json',
        '',
        '1 check failed, 1 warning.',
        '',
      ].join('\n'),
    )
  })

  it('uses ✓ / ! / ✗ with colour', () => {
    const lines = report.checks.map((c) => renderCheck(c, {color: true}).split('\n')[0]!.replace(/\u001B\[[0-9;]*m/g, ''))
    expect(lines).toEqual(['✓ Node.js 20.18.1', '! 2 variables are not set: $A, $B', '✗ credentials.json is mode 0644'])
    expect(renderCheck(report.checks[2]!, {color: true})).toContain('\u001B[31m')
  })

  it('never prints a fix under an ok line, and sums up a clean run', () => {
    expect(renderCheck({id: 'x', status: 'ok', message: 'fine', fix: 'nothing'}, {color: false})).toBe('ok   fine')
    expect(summaryLine({ok: true, checks: [report.checks[0]!]})).toBe('No problems found (1 check).')
  })
})

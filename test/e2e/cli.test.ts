import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Sandbox, createSandbox, runLobu} from './helpers.js'

let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await createSandbox()
})
afterAll(async () => {
  await sandbox.cleanup()
})

describe('lobu (the CLI surface)', () => {
  it('--help lists the command groups and examples', async () => {
    const r = await runLobu(['--help'], {cwd: sandbox.work, sandbox})
    expect(r.exitCode).toBe(0)
    for (const cmd of ['init', 'validate', 'apply', 'run', 'chat', 'context', 'whoami', 'token']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'))
    }
    expect(r.stdout).toContain('EXAMPLES')
    expect(r.stdout).toContain('$ lobu init demo --yes')
  })

  it('--version prints name/version', async () => {
    const r = await runLobu(['--version'], {cwd: sandbox.work, sandbox})
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^lobu\/\d+\.\d+\.\d+ /)
  })

  it('every command has --help with at least one example', async () => {
    for (const cmd of [['init'], ['validate'], ['apply'], ['run'], ['chat'], ['context', 'add'], ['token', 'create'], ['whoami']]) {
      const r = await runLobu([...cmd, '--help'], {cwd: sandbox.work, sandbox})
      expect(r.exitCode, cmd.join(' ')).toBe(0)
      expect(r.stdout, cmd.join(' ')).toContain('EXAMPLES')
    }
  })

  it('a bad flag value is a usage error: exit 2, one Error line, no stack', async () => {
    const r = await runLobu(['run', '--port', 'abc'], {cwd: sandbox.work, sandbox})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^Error: /m)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('an unknown flag is a usage error with a help hint', async () => {
    const r = await runLobu(['validate', '--nope'], {cwd: sandbox.work, sandbox})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Error:')
    expect(r.stderr).toContain('--help')
  })
})

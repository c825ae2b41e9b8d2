import * as realFs from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

// Make renameSync fail on demand, to prove a failed write leaves the previous file intact.
const failRename = {on: false}
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  return {
    ...fs,
    renameSync: (from: string, to: string) => {
      if (failRename.on) throw Object.assign(new Error('ENOSPC: no space left on device'), {code: 'ENOSPC'})
      return fs.renameSync(from, to)
    },
  }
})

const {credentialsPath, getStoredToken, saveToken} = await import('../../../src/lib/credentials/index.js')

let root: string
let env: Record<string, string | undefined>

beforeEach(() => {
  root = realFs.mkdtempSync(join(tmpdir(), 'lobu-atomic-'))
  env = {LOBU_CONFIG_DIR: join(root, 'cfg')}
  failRename.on = false
})

afterEach(() => {
  realFs.rmSync(root, {recursive: true, force: true})
})

const entry = (token: string) => ({token, tokenId: 't', org: 'o', user: 'u', scopes: ['chat'], expiresAt: null})

describe('atomic credentials write', () => {
  it('keeps the previous content and leaves no temp file when the write fails', () => {
    saveToken('http://127.0.0.1:8787', entry('lobu_pat_old'), env)
    const before = realFs.readFileSync(credentialsPath(env), 'utf8')

    failRename.on = true
    expect(() => saveToken('http://127.0.0.1:8787', entry('lobu_pat_new'), env)).toThrow(/ENOSPC/)
    failRename.on = false

    expect(realFs.readFileSync(credentialsPath(env), 'utf8')).toBe(before)
    expect(realFs.readdirSync(env.LOBU_CONFIG_DIR!)).toEqual(['credentials.json'])
    expect(getStoredToken('http://127.0.0.1:8787', env)?.token).toBe('lobu_pat_old')
  })
})

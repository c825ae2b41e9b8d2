import {chmodSync, existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {checkConfigDir, checkCredentials, checkNode, versionAtLeast} from '../../../src/lib/doctor/index.js'
import {type TempDir, tempDir} from './helpers.js'

let tmp: TempDir
let cfg: string
let env: NodeJS.ProcessEnv

beforeEach(() => {
  tmp = tempDir()
  cfg = join(tmp.root, 'cfg')
  env = {LOBU_CONFIG_DIR: cfg, HOME: join(tmp.root, 'home')}
})

afterEach(() => tmp.cleanup())

describe('checkNode', () => {
  it('compares major.minor.patch numerically', () => {
    expect(versionAtLeast('20.18.1', '20.18.1')).toBe(true)
    expect(versionAtLeast('20.20.0', '20.18.1')).toBe(true)
    expect(versionAtLeast('22.0.0', '20.18.1')).toBe(true)
    expect(versionAtLeast('20.9.0', '20.18.1')).toBe(false)
    expect(versionAtLeast('v18.20.4', '20.18.1')).toBe(false)
  })

  it('passes on 20.18.1 and newer, fails on older versions with an install hint', () => {
    expect(checkNode('20.18.1')).toEqual({id: 'node', status: 'ok', message: 'Node.js 20.18.1'})
    const old = checkNode('v20.18.0')
    expect(old.status).toBe('fail')
    expect(old.message).toContain('20.18.0 is too old')
    expect(old.message).toContain('20.18.1')
    expect(old.fix).toMatch(/Install Node\.js/)
  })
})

describe('checkConfigDir', () => {
  it('is fine when the dir does not exist yet, and does not create it', () => {
    const c = checkConfigDir(env)
    expect(c.status).toBe('ok')
    expect(c.message).toContain('does not exist yet')
    expect(existsSync(cfg)).toBe(false)
  })

  it('passes on 0700 and warns on a dir others can read, with a chmod 700 fix, without changing it', () => {
    mkdirSync(cfg, {mode: 0o700})
    chmodSync(cfg, 0o700)
    expect(checkConfigDir(env)).toMatchObject({status: 'ok', message: `config dir ${cfg} (0700)`})
    chmodSync(cfg, 0o755)
    const c = checkConfigDir(env)
    expect(c).toMatchObject({status: 'warn', fix: `chmod 700 ${cfg}`})
    expect(c.message).toContain('0755')
    expect(checkConfigDir(env).status).toBe('warn') // the mode was not touched
  })

  it('fails when the path is a file', () => {
    writeFileSync(cfg, 'oops')
    expect(checkConfigDir(env)).toMatchObject({status: 'fail', message: `config dir ${cfg} is not a directory`})
  })
})

describe('checkCredentials', () => {
  const file = () => join(cfg, 'credentials.json')
  const write = (content: string, mode: number) => {
    mkdirSync(cfg, {recursive: true, mode: 0o700})
    writeFileSync(file(), content)
    chmodSync(file(), mode)
  }

  it('is fine without a credentials file', () => {
    expect(checkCredentials(env)).toMatchObject({status: 'ok', message: 'credentials.json: no tokens stored yet'})
  })

  it('passes on a 0600 file and counts its tokens', () => {
    write(JSON.stringify({version: 1, tokens: {'http://127.0.0.1:8787': {token: 'a'}, 'https://x.test': {token: 'b'}}}), 0o600)
    expect(checkCredentials(env)).toMatchObject({status: 'ok', message: 'credentials.json (0600, 2 tokens)'})
  })

  it('fails on a group/world-readable file with a chmod 600 fix, and leaves the mode alone', () => {
    write('{"version":1,"tokens":{}}', 0o644)
    const c = checkCredentials(env)
    expect(c.status).toBe('fail')
    expect(c.message).toContain('0644')
    expect(c.fix).toBe(`chmod 600 ${file()}`)
    expect(checkCredentials(env).status).toBe('fail')
  })

  it('fails on a file that is not JSON', () => {
    write('{not json', 0o600)
    const c = checkCredentials(env)
    expect(c.status).toBe('fail')
    expect(c.message).toContain('not valid JSON')
    expect(c.fix).toMatch(/Delete it and log in again/)
  })
})

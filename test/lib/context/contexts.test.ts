import {existsSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeEach, describe, expect, it} from 'vitest'

import {
  addContext,
  configDir,
  currentContextName,
  getLastThread,
  listContexts,
  removeContext,
  resolveContext,
  setContext,
  setLastThread,
  useContext,
} from '../../../src/lib/context/index.js'
import {exitCodeOf} from '../../../src/lib/cli/exit.js'
import {getStoredToken, saveToken} from '../../../src/lib/credentials/index.js'
import {catchLobuError, useTempConfigDir} from '../../support/config-dir.js'

// A fresh config dir per test, not created yet: the first write creates it.
const tmp = useTempConfigDir('lobu-ctx-')
let root: string
let env: Record<string, string | undefined>
beforeEach(() => {
  ;({root, env} = tmp)
})

const catchError = catchLobuError

const token = (value: string) => ({token: value, tokenId: 'tok_1', org: 'local', user: 'me', scopes: ['chat'], expiresAt: null})

describe('configDir', () => {
  it('prefers LOBU_CONFIG_DIR, then XDG_CONFIG_HOME/lobu, then ~/.config/lobu', () => {
    expect(configDir({LOBU_CONFIG_DIR: '/a/b', XDG_CONFIG_HOME: '/x', HOME: '/h'})).toBe('/a/b')
    expect(configDir({XDG_CONFIG_HOME: '/x', HOME: '/h'})).toBe('/x/lobu')
    expect(configDir({LOBU_CONFIG_DIR: '', XDG_CONFIG_HOME: '', HOME: '/h'})).toBe('/h/.config/lobu')
  })

  it('is created with mode 0700 on the first write, and reading creates nothing', () => {
    const dir = env.LOBU_CONFIG_DIR!
    resolveContext({env})
    listContexts({env})
    expect(existsSync(dir)).toBe(false)
    addContext('prod', 'https://lobu.example.com', env)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual({
      version: 1,
      contexts: {prod: {url: 'https://lobu.example.com'}},
    })
  })
})

describe('resolveContext precedence', () => {
  beforeEach(() => {
    addContext('flagged', 'https://flag.example.com', env)
    addContext('fromenv', 'https://env.example.com', env)
    addContext('cur', 'https://current.example.com', env)
  })

  it('falls back to the built-in local on the default port', () => {
    expect(resolveContext({env})).toEqual({
      name: 'local',
      url: 'http://127.0.0.1:8787',
      origin: 'http://127.0.0.1:8787',
      source: 'default',
      builtin: true,
    })
  })

  it('uses current from config.json over the default', () => {
    useContext('cur', env)
    expect(resolveContext({env})).toMatchObject({name: 'cur', url: 'https://current.example.com', source: 'current'})
  })

  it('uses LOBU_CONTEXT over current', () => {
    useContext('cur', env)
    env.LOBU_CONTEXT = 'fromenv'
    expect(resolveContext({env})).toMatchObject({name: 'fromenv', source: 'env'})
  })

  it('uses --context over everything', () => {
    useContext('cur', env)
    env.LOBU_CONTEXT = 'fromenv'
    expect(resolveContext({env, flag: 'flagged'})).toMatchObject({
      name: 'flagged',
      url: 'https://flag.example.com',
      origin: 'https://flag.example.com',
      source: 'flag',
      builtin: false,
    })
  })

  it('gives local the project port, unless config.json defines local explicitly', () => {
    expect(resolveContext({env, projectPort: 9100}).url).toBe('http://127.0.0.1:9100')
    setContext('local', 'http://127.0.0.1:9555/', env)
    expect(resolveContext({env, projectPort: 9100})).toMatchObject({url: 'http://127.0.0.1:9555', builtin: false})
  })

  it('rejects an unknown name with exit 2, listing the known contexts', () => {
    const fromFlag = catchError(() => resolveContext({env, flag: 'nope'}))
    expect(exitCodeOf(fromFlag)).toBe(2)
    expect(fromFlag.message).toContain('unknown context "nope"')
    expect(fromFlag.message).toContain('local, cur, flagged, fromenv')

    env.LOBU_CONTEXT = 'ghost'
    const fromEnv = catchError(() => resolveContext({env}))
    expect(exitCodeOf(fromEnv)).toBe(2)
    expect(fromEnv.message).toContain('"ghost" (from LOBU_CONTEXT)')
  })
})

describe('add / use / remove', () => {
  it('round-trips and marks the current context', () => {
    expect(addContext('prod', 'https://Lobu.Example.com/', env)).toEqual({name: 'prod', url: 'https://lobu.example.com'})
    addContext('staging', 'http://10.0.0.5:8787/base/', env)
    expect(currentContextName(env)).toBe('local')

    useContext('prod', env)
    expect(currentContextName(env)).toBe('prod')
    expect(listContexts({env})).toEqual([
      {name: 'local', url: 'http://127.0.0.1:8787', current: false, builtin: true},
      {name: 'prod', url: 'https://lobu.example.com', current: true, builtin: false},
      {name: 'staging', url: 'http://10.0.0.5:8787/base', current: false, builtin: false},
    ])

    const removed = removeContext('prod', {env})
    expect(removed).toMatchObject({name: 'prod', overrideOnly: false})
    expect(currentContextName(env)).toBe('local')
    expect(listContexts({env}).map((c) => c.name)).toEqual(['local', 'staging'])
    expect(resolveContext({env}).name).toBe('local')
    // no temp files left behind by the atomic writes
    expect(readdirSync(env.LOBU_CONFIG_DIR!).sort()).toEqual(['config.json'])
  })

  it('refuses duplicates, bad names, bad URLs and unknown names with exit 2', () => {
    addContext('prod', 'https://lobu.example.com', env)
    for (const fn of [
      () => addContext('prod', 'https://other.example.com', env),
      () => addContext('-bad', 'https://x.example.com', env),
      () => addContext('a/b', 'https://x.example.com', env),
      () => addContext('x'.repeat(64), 'https://x.example.com', env),
      () => addContext('ftp', 'ftp://x.example.com', env),
      () => addContext('rel', 'lobu.example.com', env),
      () => addContext('q', 'https://x.example.com/?a=1', env),
      () => addContext('creds', 'https://user:pw@x.example.com', env),
      () => useContext('nope', env),
      () => removeContext('nope', {env}),
    ]) {
      expect(exitCodeOf(catchError(fn))).toBe(2)
    }
    expect(listContexts({env}).map((c) => c.name)).toEqual(['local', 'prod'])
  })

  it('forgets the stored token of a removed context unless another context uses its origin', () => {
    addContext('a', 'https://shared.example.com', env)
    addContext('b', 'https://shared.example.com/prefix', env)
    addContext('solo', 'https://solo.example.com', env)
    saveToken('https://shared.example.com', token('lobu_pat_shared'), env)
    saveToken('https://solo.example.com', token('lobu_pat_solo'), env)

    expect(removeContext('a', {env}).forgotToken).toBe(false)
    expect(getStoredToken('https://shared.example.com', env)?.token).toBe('lobu_pat_shared')
    expect(removeContext('b', {env}).forgotToken).toBe(true)
    expect(getStoredToken('https://shared.example.com', env)).toBeUndefined()
    expect(removeContext('solo', {env}).forgotToken).toBe(true)
    expect(getStoredToken('https://solo.example.com', env)).toBeUndefined()
  })

  it('removing local only removes its override (and the built-in cannot be removed)', () => {
    setContext('local', 'http://127.0.0.1:9000', env)
    saveToken('http://127.0.0.1:9000', token('lobu_pat_local'), env)
    expect(removeContext('local', {env})).toMatchObject({overrideOnly: true, forgotToken: false})
    expect(resolveContext({env}).url).toBe('http://127.0.0.1:8787')
    expect(getStoredToken('http://127.0.0.1:9000', env)?.token).toBe('lobu_pat_local')
    expect(exitCodeOf(catchError(() => removeContext('local', {env})))).toBe(2)
  })

  it('setContext upserts (as lobu run does for local)', () => {
    setContext('local', 'http://127.0.0.1:9001', env)
    setContext('local', 'http://127.0.0.1:9002', env)
    expect(resolveContext({env, flag: 'local'})).toMatchObject({url: 'http://127.0.0.1:9002', builtin: false})
  })

  it('reports a corrupt config.json as a usage error naming the file', () => {
    addContext('prod', 'https://lobu.example.com', env)
    writeFileSync(join(env.LOBU_CONFIG_DIR!, 'config.json'), '{not json')
    const error = catchError(() => resolveContext({env}))
    expect(exitCodeOf(error)).toBe(2)
    expect(error.message).toContain('config.json is not valid JSON')
  })
})

describe('state.json', () => {
  it('remembers the last thread per (context, agent) and forgets it with the context', () => {
    expect(getLastThread('local', 'default', env)).toBeUndefined()
    setLastThread('local', 'default', 'thread-1', env)
    setLastThread('local', 'support', 'thread-2', env)
    setLastThread({name: 'prod'}, 'default', 'thread-3', env)
    setLastThread('local', 'default', 'thread-4', env)
    expect(getLastThread('local', 'default', env)).toBe('thread-4')
    expect(getLastThread({name: 'local'}, 'support', env)).toBe('thread-2')
    expect(getLastThread('prod', 'default', env)).toBe('thread-3')
    expect(statSync(join(env.LOBU_CONFIG_DIR!, 'state.json')).mode & 0o777).toBe(0o600)

    addContext('prod', 'https://lobu.example.com', env)
    removeContext('prod', {env})
    expect(getLastThread('prod', 'default', env)).toBeUndefined()
    expect(getLastThread('local', 'default', env)).toBe('thread-4')
  })
})

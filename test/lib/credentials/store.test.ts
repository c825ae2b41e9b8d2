import {chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {beforeEach, describe, expect, it} from 'vitest'

import {exitCodeOf} from '../../../src/lib/cli/exit.js'
import {
  credentialsPath,
  defaultTokenName,
  forgetAccount,
  forgetToken,
  getLocalAdmin,
  getStoredToken,
  listAccounts,
  parseExpiresIn,
  parseScopes,
  saveToken,
  switchAccount,
  tokenForContext,
} from '../../../src/lib/credentials/index.js'
import {catchLobuError, useTempConfigDir} from '../../support/config-dir.js'

// A fresh config dir per test, not created yet: the first write creates it.
const tmp = useTempConfigDir('lobu-cred-')
let root: string
let env: Record<string, string | undefined>
beforeEach(() => {
  ;({root, env} = tmp)
})

const catchError = catchLobuError

const entry = (token: string) => ({
  token,
  tokenId: 'tok_1',
  org: 'local',
  user: 'me',
  scopes: ['agents:read', 'chat'],
  expiresAt: '2030-01-01T00:00:00.000Z',
})

describe('credentials.json', () => {
  it('is written 0600 in a 0700 dir, keyed by origin, with no temp file left', () => {
    saveToken('http://127.0.0.1:8787/', entry('lobu_pat_a'), env)
    const path = credentialsPath(env)
    expect(path).toBe(join(env.LOBU_CONFIG_DIR!, 'credentials.json'))
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(statSync(env.LOBU_CONFIG_DIR!).mode & 0o777).toBe(0o700)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      version: 2,
      origins: {'http://127.0.0.1:8787': {accounts: [{...entry('lobu_pat_a'), kind: 'login'}]}},
      active: {},
    })
    saveToken('https://lobu.example.com/some/path', entry('lobu_pat_b'), env)
    expect(readdirSync(env.LOBU_CONFIG_DIR!)).toEqual(['credentials.json'])
    expect(getStoredToken('https://lobu.example.com', env)?.token).toBe('lobu_pat_b')
    expect(getStoredToken('http://127.0.0.1:8787', env)?.token).toBe('lobu_pat_a')
    // a different port is a different origin
    expect(getStoredToken('http://127.0.0.1:8788', env)).toBeUndefined()
  })

  it('forgets a token for one origin only', () => {
    saveToken('http://127.0.0.1:8787', entry('lobu_pat_a'), env)
    saveToken('https://lobu.example.com', entry('lobu_pat_b'), env)
    expect(forgetToken('http://127.0.0.1:8787', env)).toBe(true)
    expect(forgetToken('http://127.0.0.1:8787', env)).toBe(false)
    expect(getStoredToken('http://127.0.0.1:8787', env)).toBeUndefined()
    expect(getStoredToken('https://lobu.example.com', env)?.token).toBe('lobu_pat_b')
  })

  it('refuses a group/world-readable file with exit 3 and a chmod hint', () => {
    saveToken('http://127.0.0.1:8787', entry('lobu_pat_a'), env)
    const path = credentialsPath(env)
    chmodSync(path, 0o644)
    for (const fn of [
      () => getStoredToken('http://127.0.0.1:8787', env),
      () => tokenForContext({origin: 'http://127.0.0.1:8787'}, env),
      () => saveToken('http://127.0.0.1:8787', entry('lobu_pat_c'), env),
    ]) {
      const error = catchError(fn)
      expect(exitCodeOf(error)).toBe(3)
      expect(error.message).toBe('credentials.json is readable by other users')
      expect(error.hint).toBe(`chmod 600 ${path}`)
    }
    chmodSync(path, 0o600)
    expect(getStoredToken('http://127.0.0.1:8787', env)?.token).toBe('lobu_pat_a')
  })

  it('tightens a loose config dir when it writes a token', () => {
    saveToken('http://127.0.0.1:8787', entry('lobu_pat_a'), env)
    chmodSync(env.LOBU_CONFIG_DIR!, 0o755)
    saveToken('http://127.0.0.1:8787', entry('lobu_pat_b'), env)
    expect(statSync(env.LOBU_CONFIG_DIR!).mode & 0o777).toBe(0o700)
  })
})

describe('accounts per origin', () => {
  const origin = 'http://127.0.0.1:8787'
  const admin = {...entry('lobu_pat_admin'), user: 'local', org: 'local', tokenId: 'tok_admin'}
  const acme = {...entry('lobu_pat_acme'), user: 'ada', org: 'acme', tokenId: 'tok_acme'}

  it('a login adds an account next to the local admin one, active for its own context only', () => {
    saveToken(origin, admin, env, {kind: 'local-admin'})
    saveToken(origin, acme, env, {kind: 'login', activate: 'acme'})
    expect(tokenForContext({origin, name: 'local'}, env)?.token).toBe('lobu_pat_admin')
    expect(tokenForContext({origin, name: 'acme'}, env)?.token).toBe('lobu_pat_acme')
    expect(getLocalAdmin(origin, env)?.token).toBe('lobu_pat_admin')
    // a login as the admin's own user@org never replaces the admin account
    saveToken(origin, {...admin, token: 'lobu_pat_login_as_admin'}, env, {kind: 'login'})
    expect(getLocalAdmin(origin, env)?.token).toBe('lobu_pat_admin')
    // a new local admin token replaces only the old local admin one
    saveToken(origin, {...admin, token: 'lobu_pat_admin2'}, env, {kind: 'local-admin'})
    expect(listAccounts(env)[0]!.accounts.map((a) => `${a.kind}:${a.name}:${a.token}`)).toEqual(['login:ada@acme:lobu_pat_acme', 'local-admin:local@local:lobu_pat_admin2'])
  })

  it('switches the active account of a context; an unknown one is exit 2 listing the accounts', () => {
    saveToken(origin, admin, env, {kind: 'local-admin'})
    saveToken(origin, acme, env, {kind: 'login'})
    expect(switchAccount({name: 'local', origin}, 'ada@acme', env).token).toBe('lobu_pat_acme')
    expect(tokenForContext({origin, name: 'local'}, env)?.token).toBe('lobu_pat_acme')
    const error = catchError(() => switchAccount({name: 'local', origin}, 'bob@x', env))
    expect(error.kind).toBe('usage')
    expect(error.message).toContain('accounts there: local@local, ada@acme')
    // forgetting the active account falls back to the local admin
    expect(forgetAccount(origin, acme, env)).toBe(true)
    expect(tokenForContext({origin, name: 'local'}, env)?.token).toBe('lobu_pat_admin')
  })

  it('migrates a version 1 file on first read, atomically, keeping its mode', () => {
    const path = credentialsPath(env)
    mkdirSync(env.LOBU_CONFIG_DIR!, {recursive: true, mode: 0o700})
    writeFileSync(path, JSON.stringify({version: 1, tokens: {[origin]: admin, 'https://lobu.example.com': acme}}), {mode: 0o600})
    expect(getStoredToken(origin, env)?.token).toBe('lobu_pat_admin')
    const file = JSON.parse(readFileSync(path, 'utf8'))
    expect(file.version).toBe(2)
    expect(file.origins[origin].accounts).toEqual([{...admin, kind: 'local-admin'}])
    expect(file.origins['https://lobu.example.com'].accounts).toEqual([{...acme, kind: 'login'}])
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readdirSync(env.LOBU_CONFIG_DIR!)).toEqual(['credentials.json'])
  })
})

describe('tokenForContext', () => {
  it('uses LOBU_TOKEN over the stored token, and the stored one otherwise', () => {
    const ctx = {origin: 'http://127.0.0.1:8787'}
    expect(tokenForContext(ctx, env)).toBeUndefined()
    saveToken(ctx.origin, entry('lobu_pat_stored'), env)
    expect(tokenForContext(ctx, env)).toMatchObject({token: 'lobu_pat_stored', source: 'stored'})
    expect(tokenForContext(ctx, {...env, LOBU_TOKEN: 'lobu_pat_env'})).toEqual({token: 'lobu_pat_env', source: 'env'})
    expect(tokenForContext(ctx, {...env, LOBU_TOKEN: ''})).toMatchObject({token: 'lobu_pat_stored', source: 'stored'})
    // the stored token of another origin is never used
    expect(tokenForContext({origin: 'https://other.example.com'}, env)).toBeUndefined()
  })
})

describe('token request options', () => {
  it('parses scopes, rejecting unknown and empty ones with exit 2', () => {
    expect(parseScopes(['chat', 'agents:read,chat', 'tokens:write admin'])).toEqual(['chat', 'agents:read', 'tokens:write', 'admin'])
    const unknown = catchError(() => parseScopes(['chat', 'foo', 'agents:delete']))
    expect(exitCodeOf(unknown)).toBe(2)
    expect(unknown.message).toBe('unknown scopes: foo, agents:delete')
    expect(exitCodeOf(catchError(() => parseScopes([''])))).toBe(2)
  })

  it('parses --expires-in', () => {
    expect(parseExpiresIn('30d')).toEqual({expiresIn: '30d', seconds: 30 * 86_400})
    expect(parseExpiresIn('12h')).toEqual({expiresIn: '12h', seconds: 12 * 3600})
    expect(parseExpiresIn('never')).toEqual({expiresIn: 'never', seconds: null})
    for (const bad of ['', '0d', '30', '1y', '-1d', '3651d', 'forever']) {
      expect(exitCodeOf(catchError(() => parseExpiresIn(bad)))).toBe(2)
    }
  })

  it('names tokens cli-<host>-<date>', () => {
    expect(defaultTokenName(new Date(2025, 2, 7), 'Ada-MacBook.local')).toBe('cli-ada-macbook-2025-03-07')
    expect(defaultTokenName(new Date(2025, 11, 31), '???')).toBe('cli-host-2025-12-31')
  })
})

import {createHash} from 'node:crypto'

import {describe, expect, it} from 'vitest'

import {bearerFrom} from '../../../../src/lib/gateway/auth/authenticate.js'
import {InvalidExpiryError, expiryDate, parseExpiresIn} from '../../../../src/lib/gateway/auth/expiry.js'
import {hashPassword, verifyPassword} from '../../../../src/lib/gateway/auth/password.js'
import {DEFAULT_SCOPES, OWNER_SCOPES, SCOPES} from '../../../../src/lib/contract/scopes.js'
import {checkRequestedScopes} from '../../../../src/lib/gateway/auth/token-service.js'
import {TOKEN_PATTERN, generateToken, hashToken, isTokenFormat, sameHash} from '../../../../src/lib/gateway/auth/tokens.js'
import {HttpError} from '../../../../src/lib/gateway/http/errors.js'

describe('token format', () => {
  it('is lobu_pat_ + 43 base62 characters, all distinct', () => {
    const tokens = Array.from({length: 500}, () => generateToken())
    for (const t of tokens) expect(t).toMatch(TOKEN_PATTERN)
    expect(new Set(tokens).size).toBe(tokens.length)
  })

  it('uses the whole base62 alphabet (no modulo bias toward a subset)', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) for (const ch of generateToken().slice('lobu_pat_'.length)) seen.add(ch)
    expect(seen.size).toBe(62)
  })

  it('hashes to hex SHA-256 and compares hashes by value', () => {
    const t = generateToken()
    const h = hashToken(t)
    expect(h).toBe(createHash('sha256').update(t).digest('hex'))
    expect(sameHash(h, hashToken(t))).toBe(true)
    expect(sameHash(h, hashToken(generateToken()))).toBe(false)
    expect(sameHash(h, 'abc')).toBe(false)
  })

  it('rejects malformed tokens', () => {
    expect(isTokenFormat('lobu_pat_short')).toBe(false)
    expect(isTokenFormat(generateToken() + 'x')).toBe(false)
    expect(isTokenFormat('lobu_pat_' + '-'.repeat(43))).toBe(false)
  })

  it('reads the bearer only from a Bearer authorization value', () => {
    expect(bearerFrom('Bearer abc')).toBe('abc')
    expect(bearerFrom('bearer abc')).toBe('abc')
    expect(bearerFrom('Basic abc')).toBeUndefined()
    expect(bearerFrom('Bearer a b')).toBeUndefined()
    expect(bearerFrom(undefined)).toBeUndefined()
  })
})

describe('scopes', () => {
  it('defaults never include connections:token or admin; owners get all but admin', () => {
    expect(DEFAULT_SCOPES).toEqual(['agents:read', 'agents:write', 'chat'])
    expect(OWNER_SCOPES).not.toContain('admin')
    expect(OWNER_SCOPES.length).toBe(SCOPES.length - 1)
  })

  const status = (fn: () => unknown) => {
    try {
      fn()
    } catch (err) {
      return err instanceof HttpError ? [err.status, err.code, err.message] : err
    }
    return 'no error'
  }

  it('rejects an empty list and unknown scopes with 400, scopes the caller lacks with 403 (S19)', () => {
    expect(status(() => checkRequestedScopes([], new Set(SCOPES)))).toEqual([400, 'INVALID_SCOPE', 'scopes must not be empty'])
    expect(status(() => checkRequestedScopes(['chat', 'foo'], new Set(SCOPES)))).toEqual([400, 'INVALID_SCOPE', 'unknown scope: "foo"'])
    const [code, , message] = status(() => checkRequestedScopes(['chat', 'admin'], new Set(['chat']))) as [number, string, string]
    expect(code).toBe(403)
    expect(message).toContain('`admin`')
    expect(checkRequestedScopes(['chat', 'agents:read', 'chat'], new Set(['chat', 'agents:read']))).toEqual(['agents:read', 'chat'])
  })
})

describe('expiry', () => {
  it('parses durations, seconds and never', () => {
    expect(parseExpiresIn('30d')).toBe(30 * 86_400)
    expect(parseExpiresIn('12h')).toBe(12 * 3600)
    expect(parseExpiresIn('45m')).toBe(45 * 60)
    expect(parseExpiresIn('3600')).toBe(3600)
    expect(parseExpiresIn(90)).toBe(90)
    expect(parseExpiresIn('never')).toBeNull()
    const now = new Date('2030-01-01T00:00:00Z')
    expect(expiryDate('1d', now)?.toISOString()).toBe('2030-01-02T00:00:00.000Z')
  })

  it('rejects nonsense, zero, negatives and absurd lifetimes', () => {
    for (const bad of ['', 'soon', '-1', '0', '1y', '3.5h', '99999999d', 0, -5, 1.5]) {
      expect(() => parseExpiresIn(bad as string), String(bad)).toThrow(InvalidExpiryError)
    }
  })
})

describe('passwords', () => {
  it('hashes with scrypt, salted, parameters in the string; verifies', async () => {
    const a = await hashPassword('correct horse')
    const b = await hashPassword('correct horse')
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
    expect(a).not.toBe(b)
    expect(a).not.toContain('correct horse')
    expect(await verifyPassword('correct horse', a)).toBe(true)
    expect(await verifyPassword('correct horsf', a)).toBe(false)
    expect(await verifyPassword('x', null)).toBe(false)
    expect(await verifyPassword('x', 'scrypt$bad')).toBe(false)
  })
})

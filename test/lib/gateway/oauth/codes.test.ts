import {describe, expect, it} from 'vitest'

import {USER_CODE_ALPHABET, newUserCode, normalizeUserCode, pkceChallenge, randomSecret} from '../../../../src/lib/gateway/oauth/codes.js'
import {escapeHtml} from '../../../../src/lib/gateway/oauth/html.js'

describe('oauth codes', () => {
  it('user codes: 8 characters of the unambiguous alphabet, shown as XXXX-XXXX, all characters used', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 500; i++) {
      const code = newUserCode()
      expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
      for (const ch of code.replace('-', '')) seen.add(ch)
    }
    expect([...seen].sort().join('')).toBe(USER_CODE_ALPHABET)
    expect(USER_CODE_ALPHABET).not.toMatch(/[AEIOUY0-9]/)
  })

  it('normalizes what people type; rejects anything else', () => {
    expect(normalizeUserCode('bcdf-ghjk')).toBe('BCDFGHJK')
    expect(normalizeUserCode(' BCDF GHJK ')).toBe('BCDFGHJK')
    expect(normalizeUserCode('BCDFGHJK')).toBe('BCDFGHJK')
    for (const bad of ['BCDF-GHJ', 'ABCD-EFGH', 'BCDF-GHJK-L', '', 'BCDF_GHJK', undefined, null]) expect(normalizeUserCode(bad as string)).toBeUndefined()
  })

  it('secrets are 256-bit base64url; PKCE S256 matches RFC 7636 appendix B', () => {
    const a = randomSecret()
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(randomSecret()).not.toBe(a)
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')
  })

  it('escapes HTML', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
  })
})

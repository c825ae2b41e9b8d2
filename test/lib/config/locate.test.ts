import {describe, expect, it} from 'vitest'

import {SourceLocator} from '../../../src/lib/config/locate.js'

const at = (source: string, path: (string | number)[], prefer: 'key' | 'value' = 'key') =>
  new SourceLocator(source).locate(path, prefer)

describe('SourceLocator', () => {
  it('locates keys of [table] headers and the header itself', () => {
    const src = ['# comment', '[project]', 'id = "x"', '', '  [gateway]  # trailing', '  port = 8787'].join('\n')
    expect(at(src, ['project'])).toEqual({col: 1, line: 2})
    expect(at(src, ['project', 'id'])).toEqual({col: 1, line: 3})
    expect(at(src, ['project', 'id'], 'value')).toEqual({col: 6, line: 3})
    expect(at(src, ['gateway'])).toEqual({col: 3, line: 5})
    expect(at(src, ['gateway', 'port'], 'value')).toEqual({col: 10, line: 6})
  })

  it('numbers [[array.of.tables]] elements per array, also nested ones', () => {
    const src = [
      '[agents.a]', // 1
      '[[agents.a.providers]]', // 2
      'id = "openai"', // 3
      '[[agents.b.providers]]', // 4
      'id = "x"', // 5
      '[[agents.a.providers]]', // 6
      'id = "anthropic"', // 7
      'model = 5', // 8
      '[[x]]', // 9
      '[[x.y]]', // 10
      'k = 1', // 11
      '[[x]]', // 12
      '[[x.y]]', // 13
      '[[x.y]]', // 14
      'k = 2', // 15
      '[x.z]', // 16
      'k = 3', // 17
    ].join('\n')
    const loc = new SourceLocator(src)
    expect(loc.locate(['agents', 'a', 'providers', 0])).toEqual({col: 1, line: 2})
    expect(loc.locate(['agents', 'a', 'providers', 0, 'id'])).toEqual({col: 1, line: 3})
    expect(loc.locate(['agents', 'b', 'providers', 0, 'id'])).toEqual({col: 1, line: 5})
    expect(loc.locate(['agents', 'a', 'providers', 1])).toEqual({col: 1, line: 6})
    expect(loc.locate(['agents', 'a', 'providers', 1, 'model'], 'value')).toEqual({col: 9, line: 8})
    expect(loc.locate(['x', 0, 'y', 0, 'k'])).toEqual({col: 1, line: 11})
    expect(loc.locate(['x', 1, 'y', 1, 'k'])).toEqual({col: 1, line: 15})
    expect(loc.locate(['x', 1, 'y', 0])).toEqual({col: 1, line: 13})
    expect(loc.locate(['x', 1, 'z', 'k'])).toEqual({col: 1, line: 17})
    expect(loc.kind(['agents', 'a', 'providers'])).toBe('array')
  })

  it('locates each segment of a dotted key, with blanks around the dots', () => {
    const src = '[agents.support]\nnetwork . allowed = ["a.com"]\ntools.pre_approved = []\n'
    expect(at(src, ['agents', 'support', 'network'])).toEqual({col: 1, line: 2})
    expect(at(src, ['agents', 'support', 'network', 'allowed'])).toEqual({col: 11, line: 2})
    expect(at(src, ['agents', 'support', 'tools', 'pre_approved'])).toEqual({col: 7, line: 3})
    expect(at(src, ['agents', 'support', 'network', 'allowed', 0], 'value')).toEqual({col: 22, line: 2})
  })

  it('locates keys inside inline tables and elements of arrays, across lines and comments', () => {
    const src = [
      'providers = [ # the list', // 1
      '  { id = "openai", model = 5 },', // 2
      '  # comment', // 3
      '  {id="x",', // 4
      '   key = { a.b = "$K" } },', // 5
      ']', // 6
      'oauth = { auth_url = "u", scopes = ["a", "b"] }', // 7
    ].join('\n')
    const loc = new SourceLocator(src)
    expect(loc.locate(['providers', 0])).toEqual({col: 3, line: 2})
    expect(loc.locate(['providers', 0, 'model'])).toEqual({col: 20, line: 2})
    expect(loc.locate(['providers', 0, 'model'], 'value')).toEqual({col: 28, line: 2})
    expect(loc.locate(['providers', 1, 'id'], 'value')).toEqual({col: 7, line: 4})
    expect(loc.locate(['providers', 1, 'key', 'a', 'b'])).toEqual({col: 14, line: 5})
    expect(loc.locate(['providers', 1, 'key', 'a', 'b'], 'value')).toEqual({col: 18, line: 5})
    expect(loc.locate(['oauth', 'scopes', 1], 'value')).toEqual({col: 42, line: 7})
    // a key that is missing from an inline table: the table itself
    expect(loc.locate(['providers', 1, 'model'])).toEqual({col: 3, line: 4})
  })

  it('handles quoted keys and tricky strings', () => {
    const src = [
      '"quoted key" = 1', // 1
      "'lit.key' = 2", // 2
      '[agents."My Agent"]', // 3
      's = """', // 4
      'a = 1 # not a key', // 5
      '[not.a.table]', // 6
      '"""', // 7
      "t = '''x ''' # c", // 8
      'u = "a \\" # b" # c', // 9
      'v = "after"', // 10
      'w = """q""""', // 11
      'z = 1', // 12
    ].join('\n')
    const loc = new SourceLocator(src)
    expect(loc.locate(['quoted key'])).toEqual({col: 1, line: 1})
    expect(loc.locate(['lit.key'])).toEqual({col: 1, line: 2})
    expect(loc.locate(['agents', 'My Agent'])).toEqual({col: 1, line: 3})
    expect(loc.get(['agents', 'My Agent', 'a'])).toBeUndefined()
    expect(loc.get(['not'])).toBeUndefined()
    expect(loc.locate(['agents', 'My Agent', 't'])).toEqual({col: 1, line: 8})
    expect(loc.locate(['agents', 'My Agent', 'v'])).toEqual({col: 1, line: 10})
    expect(loc.locate(['agents', 'My Agent', 'z'])).toEqual({col: 1, line: 12})
  })

  it('tells an array index from a key that is a number, and reads escapes in quoted keys', () => {
    const src = ['arr = [10, 20]', '[t]', '"1" = 5', '"a\\"b" = 6', '"\u00e9t\u00e9" = 7', 'after = "x\\ty"', 'last = 1'].join('\n')
    const loc = new SourceLocator(src)
    expect(loc.locate(['arr', 1], 'value')).toEqual({col: 12, line: 1})
    expect(loc.get(['arr', '1'])).toBeUndefined()
    expect(loc.locate(['t', '1'])).toEqual({col: 1, line: 3})
    expect(loc.get(['t', 1])).toBeUndefined()
    expect(loc.locate(['t', 'a"b'], 'value')).toEqual({col: 10, line: 4})
    expect(loc.locate(['t', 'été'])).toEqual({col: 1, line: 5})
    expect(loc.locate(['t', 'after'], 'value')).toEqual({col: 9, line: 6})
    expect(loc.locate(['t', 'last'])).toEqual({col: 1, line: 7})
  })

  it('tells integers from floats and other kinds as written', () => {
    const loc = new SourceLocator('a = 5\nb = 5.0\nc = 1e3\nd = 0xff\ne = true\nf = 1979-05-27 07:32:00Z\ng = inf\nh = "s"\n')
    expect(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => loc.kind([k]))).toEqual([
      'integer',
      'float',
      'float',
      'integer',
      'boolean',
      'datetime',
      'float',
      'string',
    ])
  })

  it('falls back to the nearest defined ancestor, then to 1:1', () => {
    const src = '\n\n[agents.support]\nname = "x"\n'
    expect(at(src, ['agents', 'support', 'dir'])).toEqual({col: 1, line: 3})
    expect(at(src, ['nothing', 'here'])).toEqual({col: 1, line: 1})
  })

  it('prefers the explicit header of a table over a longer header that implied it', () => {
    const src = '[agents.support.network]\nallowed = []\n[agents.support]\nname = "x"\n'
    expect(at(src, ['agents', 'support'])).toEqual({col: 1, line: 3})
    expect(at(src, ['agents', 'support', 'dir'])).toEqual({col: 1, line: 3})
  })

  it('handles CRLF line endings', () => {
    const src = '[project]\r\nid = "abc"\r\n[gateway]\r\nport = 1\r\n'
    expect(at(src, ['gateway', 'port'], 'value')).toEqual({col: 8, line: 4})
  })
})

import {parse} from 'smol-toml'
import {describe, expect, it} from 'vitest'

import {placeholders, render, tomlEscape} from '../../../src/lib/init/render.js'

describe('render', () => {
  it('replaces every placeholder, with or without inner spaces', () => {
    expect(render('id = "{{id}}", port = {{ port }}, again {{id}}', {id: 'x', port: 8787})).toBe('id = "x", port = 8787, again x')
  })

  it('leaves text without placeholders alone, including single braces', () => {
    expect(render('a {b} { {c} }', {})).toBe('a {b} { {c} }')
  })

  it('does not re-render values that contain placeholders', () => {
    expect(render('{{a}}', {a: '{{b}}', b: 'nope'})).toBe('{{b}}')
  })

  it('throws naming every placeholder without a value', () => {
    expect(() => render('{{a}} {{b}} {{c}}', {b: 1}, 'x.tmpl')).toThrow('x.tmpl: no value for {{a}}, {{c}}')
  })

  it('does not take values from the object prototype', () => {
    expect(() => render('{{toString}}', {})).toThrow(/no value for \{\{toString\}\}/)
  })

  it('lists placeholders in order of first use', () => {
    expect(placeholders('{{b}} {{a}} {{ b }}')).toEqual(['b', 'a'])
  })
})

describe('tomlEscape', () => {
  it('round-trips through a TOML basic string', () => {
    for (const value of ['plain', 'with "quotes"', 'back\\slash', 'tab\there', 'new\nline', 'ctl\u0001', 'ünïcödé']) {
      const doc = parse(`v = "${tomlEscape(value)}"`) as {v: string}
      expect(doc.v).toBe(value)
    }
  })
})

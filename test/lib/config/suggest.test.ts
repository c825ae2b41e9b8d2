import {describe, expect, it} from 'vitest'

import {closest, editDistance} from '../../../src/lib/config/suggest.js'

describe('did-you-mean', () => {
  it('edit distance counts a swapped pair as one edit', () => {
    expect(editDistance('modle', 'model')).toBe(1)
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('', 'abc')).toBe(3)
  })

  it('suggests the closest known key for likely typos only', () => {
    const keys = ['id', 'model', 'key', 'secret_ref', 'base_url']
    expect(closest('modle', keys)).toBe('model')
    expect(closest('Model', keys)).toBe('model')
    expect(closest('secretref', keys)).toBe('secret_ref')
    expect(closest('baseurl', keys)).toBe('base_url')
    expect(closest('colour', keys)).toBeUndefined()
    expect(closest('x', [])).toBeUndefined()
  })
})

import {describe, expect, it} from 'vitest'

import {newId, randomBase62} from '../../../../src/lib/gateway/store/ids.js'

describe('ids', () => {
  it('are prefixed base62 strings of the asked length, never repeated', () => {
    const ids = Array.from({length: 5000}, () => newId('msg'))
    for (const id of ids) expect(id).toMatch(/^msg_[0-9A-Za-z]{22}$/)
    expect(new Set(ids).size).toBe(ids.length)
    for (const n of [1, 8, 32, 43, 300, 5000]) expect(randomBase62(n)).toMatch(new RegExp(`^[0-9A-Za-z]{${n}}$`))
  })

  it('use every base62 character about equally (across pool refills)', () => {
    const counts = new Map<string, number>()
    const text = randomBase62(62 * 2000)
    for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1)
    expect(counts.size).toBe(62)
    // 2000 expected per character; a biased modulo would give the first 8 about 2.5 % more.
    for (const n of counts.values()) expect(Math.abs(n - 2000)).toBeLessThan(400)
  })
})

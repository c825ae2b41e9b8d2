/**
 * The Batcher's window: items nobody waits for are grouped for up to `windowMs`, flushNow()
 * runs them at once (also the next one when nothing is queued yet), closeWindow() for good.
 * The window here is far longer than the test's timeout: an item that waits for it fails the test.
 */
import {describe, expect, it} from 'vitest'

import {Batcher} from '../../../../src/lib/gateway/sessions/batch.js'

const LONG = 60_000

function recording(windowMs: number) {
  const flushes: number[][] = []
  const batcher = new Batcher<number, number>(
    async (items) => {
      flushes.push([...items])
      return items.map((i) => i * 10)
    },
    {defer: true, windowMs},
  )
  return {batcher, flushes}
}

describe('Batcher window', () => {
  it('groups what is queued within the window into one flush', async () => {
    const {batcher, flushes} = recording(50)
    const results = Promise.all([batcher.run(1), batcher.run(2)])
    await new Promise((resolve) => setTimeout(resolve, 10))
    const third = batcher.run(3)
    expect(await results).toEqual([10, 20])
    expect(await third).toBe(30)
    expect(flushes).toEqual([[1, 2, 3]])
  })

  it('flushNow runs the queued items without waiting for the window', async () => {
    const {batcher, flushes} = recording(LONG)
    const a = batcher.run(1)
    const b = batcher.run(2)
    await new Promise((resolve) => setImmediate(resolve))
    batcher.flushNow()
    expect(await Promise.all([a, b])).toEqual([10, 20])
    expect(flushes).toEqual([[1, 2]])
    // The next item waits again: it is still queued after a while, until asked for.
    let done = false
    const c = batcher.run(3).then((v) => ((done = true), v))
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(done).toBe(false)
    batcher.flushNow()
    expect(await c).toBe(30)
  })

  it('flushNow with nothing queued lets the next item go at once', async () => {
    const {batcher, flushes} = recording(LONG)
    batcher.flushNow()
    expect(await batcher.run(7)).toBe(70)
    expect(flushes).toEqual([[7]])
  })

  it('closeWindow runs what waits and everything after it at once', async () => {
    const {batcher, flushes} = recording(LONG)
    const a = batcher.run(1)
    await new Promise((resolve) => setImmediate(resolve))
    batcher.closeWindow()
    expect(await a).toBe(10)
    expect(await batcher.run(2)).toBe(20)
    expect(flushes).toEqual([[1], [2]])
  })

  it('without a window an idle batcher starts at the end of the turn of the event loop', async () => {
    const {batcher, flushes} = recording(0)
    expect(await Promise.all([batcher.run(1), batcher.run(2)])).toEqual([10, 20])
    expect(flushes).toEqual([[1, 2]])
  })
})

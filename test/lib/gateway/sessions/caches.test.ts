/**
 * The in-memory caches of the sessions (SessionCaches): bounds, the per-session memo, and that a
 * hub lives as long as something of its session is live in this process (a tracked response, a
 * watcher), then drops itself.
 */
import {describe, expect, it} from 'vitest'

import {SessionWork} from '../../../../src/lib/gateway/sessions/batch.js'
import {SESSION_CACHE_MAX, SessionCaches} from '../../../../src/lib/gateway/sessions/caches.js'
import type {SseSink} from '../../../../src/lib/gateway/sessions/sse.js'
import type {Store} from '../../../../src/lib/gateway/store/types.js'

/** No statement is expected: any query fails the test. */
const store = {kind: 'postgres', sql: {query: () => Promise.reject(new Error('no statement expected'))}} as unknown as Store
const caches = (on: Store = store) => new SessionCaches(on, new SessionWork(on), () => {})
const sink = (): SseSink => ({send: () => true, write: () => true, comment() {}, close() {}, closed: false})
const nextSweep = () => new Promise((resolve) => setImmediate(resolve))

describe('SessionCaches', () => {
  it('merges what is remembered of a session, and forgets it whole', () => {
    const c = caches()
    c.remember('ses_a', {agentId: 'support', idBlock: {last: 256, count: 256}})
    c.remember('ses_a', {prunedAt: 5})
    expect(c.sessions.get('ses_a')).toEqual({agentId: 'support', idBlock: {last: 256, count: 256}, prunedAt: 5})
    c.remember('ses_a', {idBlock: undefined})
    expect(c.sessions.get('ses_a')?.idBlock).toBeUndefined()
    c.forget('ses_a')
    expect(c.sessions.has('ses_a')).toBe(false)
  })

  it('keeps at most SESSION_CACHE_MAX sessions, dropping the least recently updated', () => {
    const c = caches()
    for (let i = 0; i < SESSION_CACHE_MAX; i++) c.remember(`ses_${i}`, {agentId: 'a'})
    c.remember('ses_0', {prunedAt: 1})
    c.remember('ses_new', {agentId: 'b'})
    expect(c.sessions.size).toBe(SESSION_CACHE_MAX)
    expect(c.sessions.has('ses_0')).toBe(true)
    expect(c.sessions.has('ses_1')).toBe(false)
  })

  it('shares the unstored turn ends between every service over one store, not another', () => {
    const other = {...store} as Store
    expect(caches().unstored).toBe(caches().unstored)
    expect(caches(other).unstored).not.toBe(caches().unstored)
  })

  it('keeps a hub while a response of its session is open or a watcher follows it', async () => {
    const c = caches()
    const hub = c.hubs.get('ses_a')
    hub.sinks.add(sink())
    hub.watchers = 1
    c.hubs.dropIfIdle(hub)
    await nextSweep()
    expect(c.hubs.peek('ses_a')).toBe(hub)
    hub.sinks.clear()
    c.hubs.dropIfIdle(hub)
    await nextSweep()
    expect(c.hubs.peek('ses_a')).toBe(hub)
    hub.watchers = 0
    c.hubs.dropIfIdle(hub)
    await nextSweep()
    expect(c.hubs.peek('ses_a')).toBeUndefined()
  })
})

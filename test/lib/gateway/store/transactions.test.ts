/**
 * The store's transaction rules without a database: a driver that, like PGlite, is one
 * connection (a transaction holds it; everything else queues behind).
 */
import {describe, expect, it} from 'vitest'

import type {Driver, TxSql} from '../../../../src/lib/gateway/store/driver.js'
import {StoreMisuseError, storeOver} from '../../../../src/lib/gateway/store/index.js'
import {Batcher} from '../../../../src/lib/gateway/sessions/batch.js'

/** One connection: statements and transactions run one at a time, in order. */
function singleConnection(): Driver & {log: string[]} {
  let tail: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work, work)
    tail = run.catch(() => undefined)
    return run
  }
  const log: string[] = []
  const sql = (where: string): TxSql => ({
    async query<R>(text: string) {
      log.push(`${where}: ${text}`)
      return [] as R[]
    },
    async exec() {},
  })
  return {
    kind: 'pglite',
    description: 'fake',
    log,
    query: (text) => exclusive(() => sql('root').query(text)),
    exec: async () => {},
    transaction: (fn) => exclusive(() => fn(sql('tx'))),
    close: async () => {},
  }
}

describe('store transactions (one connection)', () => {
  it('fails work that waits for a transaction which waits for it, instead of hanging', async () => {
    const driver = singleConnection()
    const store = storeOver(driver, {txStallMs: 100})
    // A queue worked from outside any transaction: work handed to it from fn is not fn's.
    const queue: (() => void)[] = []
    const worker = setInterval(() => queue.splice(0).forEach((job) => job()), 1)
    try {
      const err = await store
        .transaction(async (tx) => {
          await tx.sql.query('SELECT 1')
          await new Promise((resolve, reject) => queue.push(() => store.sql.query('SELECT 2').then(resolve, reject)))
        })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreMisuseError)
      expect((err as Error).message).toMatch(/waited 0.1 s/)
      expect(driver.log).toEqual(['tx: SELECT 1'])
    } finally {
      clearInterval(worker)
    }
    // The store is usable afterwards.
    await store.sql.query('SELECT 3')
    expect(driver.log.at(-1)).toBe('root: SELECT 3')
  })

  it('refuses the store at once in a timer or callback started by fn', async () => {
    const driver = singleConnection()
    const store = storeOver(driver, {txStallMs: 60_000})
    const err = await store
      .transaction(async (tx) => {
        await tx.sql.query('SELECT 1')
        await new Promise((resolve, reject) => setTimeout(() => store.sql.query('SELECT 2').then(resolve, reject), 1))
      })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreMisuseError)
    expect((err as Error).message).toMatch(/use the tx given to fn/)
    expect(driver.log).toEqual(['tx: SELECT 1'])
    // A transaction started from a timer of an ended one is a transaction of its own.
    let late: Promise<unknown> | undefined
    await store.transaction(async () => {
      late = new Promise((resolve) => setTimeout(resolve, 5)).then(() => store.transaction(async (t) => t.sql.query('late tx')))
    })
    await late
    expect(driver.log.at(-1)).toBe('tx: late tx')
  })

  it('runs a batch queued from inside fn outside the transaction', async () => {
    const driver = singleConnection()
    const store = storeOver(driver, {txStallMs: 60_000})
    const batcher = new Batcher<string, void>(async (items) => {
      await store.sql.query(`batch ${items.join(',')}`)
      return items.map(() => undefined)
    })
    let queued: Promise<void> | undefined
    await store.transaction(async (tx) => {
      queued = batcher.run('a')
      await tx.sql.query('in tx')
    })
    await queued
    expect(driver.log).toEqual(['tx: in tx', 'root: batch a'])
  })

  it('lets a transaction that keeps working take its time', async () => {
    const driver = singleConnection()
    // Longer in all than the stall limit, never that long without a statement (a wide margin:
    // on a busy machine a timer fires late).
    const store = storeOver(driver, {txStallMs: 400})
    const tx = store.transaction(async (t) => {
      for (let i = 0; i < 12; i++) {
        await t.sql.query(`step ${i}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    })
    await new Promise((r) => setTimeout(r, 5))
    const after = store.sql.query('after')
    await tx
    await after
    expect(driver.log.at(-1)).toBe('root: after')
  })

  it('joins a nested transaction and refuses the store itself inside fn', async () => {
    const driver = singleConnection()
    const store = storeOver(driver)
    await store.transaction(async (tx) => {
      await store.transaction(async (inner) => {
        expect(inner).toBe(tx)
        await inner.sql.query('nested')
      })
      await expect(store.sql.query('root inside')).rejects.toBeInstanceOf(StoreMisuseError)
    })
    expect(driver.log).toEqual(['tx: nested'])
  })

  it('refuses a query on a transaction that has ended', async () => {
    const store = storeOver(singleConnection())
    let kept: Parameters<Parameters<typeof store.transaction>[0]>[0] | undefined
    await store.transaction(async (tx) => {
      kept = tx
    })
    await expect(kept!.sql.query('late')).rejects.toThrow(/already ended/)
  })
})

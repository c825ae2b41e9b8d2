/**
 * The per-request debug line: written by default, not even built when the logger shows no
 * debug lines (logRequests: false).
 */
import {randomBytes} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startGateway} from '../../../../src/lib/gateway/server.js'
import type {Store} from '../../../../src/lib/gateway/store/types.js'
import {storeDrivers} from '../../../support/store.js'

describe('request log', () => {
  let store: Store
  let cleanup: () => Promise<void>
  beforeAll(async () => {
    ;({store, cleanup} = await storeDrivers()[0]!.open())
  })
  afterAll(async () => {
    await cleanup?.()
  })

  for (const logRequests of [undefined, false]) {
    it(`logRequests ${String(logRequests)}: ${logRequests === false ? 'no' : 'a'} debug line per request`, async () => {
      const lines: string[] = []
      const gateway = await startGateway({
        host: '127.0.0.1',
        port: 0,
        env: {},
        version: '0.0.0-test',
        store,
        installKey: randomBytes(32),
        logger: (level, msg) => void lines.push(`${level} ${msg}`),
        ...(logRequests === undefined ? {} : {logRequests}),
      })
      try {
        const res = await fetch(`${gateway.url}/health`)
        expect(res.status).toBe(200)
        await res.text()
      } finally {
        await gateway.close()
      }
      const logged = lines.filter((l) => l.startsWith('debug GET /health → 200'))
      expect(logged).toHaveLength(logRequests === false ? 0 : 1)
    })
  }
})

import {execa} from 'execa'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {openStore} from '../../../../src/lib/gateway/store/index.js'
import {freshPgliteDir, pgliteTemplate} from '../../../support/store.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const fn of cleanups) await fn()
})

// S13: kill -9 of a process writing to a PGlite data dir leaves a database that opens, with
// every committed transaction present and the in-flight one absent.
describe('PGlite after kill -9 (S13)', () => {
  it('reopens with every committed transaction and no half-applied one', async () => {
    const templatePath = await pgliteTemplate()
    const {dataDir, remove} = await freshPgliteDir()
    cleanups.push(remove)
    const count = 25

    const child = execa('node', ['--import', 'tsx', path.join(here, 'fixtures/crash-writer.ts'), dataDir, templatePath, String(count)], {
      reject: false,
      buffer: false,
    })
    const committed: number[] = []
    await new Promise<void>((resolve, reject) => {
      let pending = ''
      child.stdout!.on('data', (chunk: Buffer) => {
        pending += chunk.toString()
        const lines = pending.split('\n')
        pending = lines.pop()!
        for (const line of lines) {
          const m = /^committed (\d+)$/.exec(line)
          if (m) committed.push(Number(m[1]))
          if (line === 'in-flight') resolve()
        }
      })
      child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)))
    })
    child.kill('SIGKILL')
    const result = await child
    expect(result.signal).toBe('SIGKILL')
    expect(committed).toHaveLength(count)

    const store = await openStore({dataDir, templatePath})
    try {
      const org = await store.orgs.getBySlug('crash')
      expect(org).toBeDefined()
      const agents = await store.agents.list(org!.id)
      expect(agents.map((a) => a.agentId).sort()).toEqual(committed.map((i) => `a${i}`).sort())
      expect(await store.agents.get(org!.id, 'half-applied')).toBeUndefined()
      expect(await store.meta.get('last')).toBe(String(count - 1))
      // And it still takes writes.
      await store.agents.upsert({orgId: org!.id, agentId: 'after', spec: agents[0]!.spec, managedBy: null})
      expect(await store.agents.get(org!.id, 'after')).toBeDefined()
    } finally {
      await store.close()
    }
  })
})

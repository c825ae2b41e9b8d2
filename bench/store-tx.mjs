#!/usr/bin/env node
// How the store recognises its open transaction: AsyncLocalStorage (the store's way) against the
// stack-trace trick it used before (bench/support/stack-tx-context.mjs), the same workload both
// ways, in one run. Measured on the built package (run `npm run build` first):
//
//   node bench/store-tx.mjs [--rounds 3] [--json]
//
// Each sample is a fresh `node` process (an AsyncLocalStorage once used changes the whole
// process: on Node 20 every promise then pays for its async hook while it is enabled) over its
// own PGlite data dir (the built template), timing three phases, each the median of 3 repeats:
//   tx depth 0/8 — 300 transactions from 10 concurrent flows, each 3 statements, two of them at
//                  the end of a call chain 0 or 8 async functions deep, one of those through a
//                  nested store.transaction() that joins it, while 10 other flows query the store
//                  itself from as deep (each such query looks for an enclosing transaction, then
//                  waits for it: PGlite is one connection). A request of the gateway reaches the
//                  store through its middleware, route, service and repository: 8 is nearer
//                  the gateway's chains, 0 the stack trick's best case
//   busy         — promise-heavy work of the process (200 000 awaits through async functions,
//                  as the HTTP and SSE code does) while one transaction is open
//   idle         — the same work with no transaction open (the gateway's chat hot path)
// Samples alternate between the two ways. The ratio is async-local / stack (below 1: the
// AsyncLocalStorage is faster). The store keeps AsyncLocalStorage unless the stack trick wins
// by more than 10 % on the total. The machine is noisy: compare the two columns of one run.
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = path.join(root, 'dist/lib/gateway')
const args = process.argv.slice(2)
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 3
const json = args.includes('--json')
const TX = 300
const FLOWS = 10
const AWAITS = 200_000
const REPEATS = 3
/** How deep the call chains of the transactions phases are (the stack trick's cost grows with it). */
const DEPTHS = [0, 8]

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

if (args[0] === '--child') {
  const [, way, dataDir] = args
  const load = (f) => import(pathToFileURL(path.join(dist, f)).href)
  const {openPgliteDriver} = await load('store/pglite.js')
  const {migrate} = await load('store/migrate.js')
  const {storeOver, StoreMisuseError} = await load('store/index.js')
  const {stackTxContext} = await import(pathToFileURL(path.join(root, 'bench/support/stack-tx-context.mjs')).href)
  const {driver} = await openPgliteDriver(dataDir, {templatePath: path.join(root, 'dist/pglite-template.tar.gz')})
  await migrate(driver)
  const store = storeOver(driver, way === 'stack' ? {txContext: stackTxContext()} : {})
  await store.sql.query('CREATE TABLE IF NOT EXISTS bench_tx (id int PRIMARY KEY, n int NOT NULL)')

  // Both ways must keep the guarantees the timings are about.
  await store.transaction(async (tx) => {
    await store.transaction(async (inner) => {
      if (inner !== tx) throw new Error(`${way}: a nested transaction did not join`)
    })
    const refused = await store.sql.query('SELECT 1').then(() => false, (err) => err instanceof StoreMisuseError)
    if (!refused) throw new Error(`${way}: the store itself was not refused inside fn`)
  })

  // A call chain `depth` async functions deep, as a service calling helpers that take a StoreTx.
  const deep = async (depth, fn) => {
    if (depth > 0) return deep(depth - 1, fn)
    return fn()
  }
  const transactions = async (depth) => {
    let next = 0
    let done = false
    const writer = async () => {
      while (next < TX) {
        const i = next++
        await store.transaction(async (tx) => {
          await tx.sql.query('INSERT INTO bench_tx (id, n) VALUES ($1, 0) ON CONFLICT (id) DO UPDATE SET n = bench_tx.n + 1', [i % 100])
          await deep(depth, () => tx.sql.query('SELECT n FROM bench_tx WHERE id = $1', [i % 100]))
          await deep(depth, () => store.transaction((inner) => inner.sql.query('UPDATE bench_tx SET n = n + 1 WHERE id = $1', [i % 100])))
        })
      }
    }
    const reader = async () => {
      while (!done) await deep(depth, () => store.sql.query('SELECT count(*) FROM bench_tx'))
    }
    const readers = Array.from({length: FLOWS}, reader)
    await Promise.all(Array.from({length: FLOWS}, writer))
    done = true
    await Promise.all(readers)
  }
  const step = async (i) => {
    await null
    return i & 1 ? JSON.stringify({i}).length : i
  }
  const work = async () => {
    let sum = 0
    for (let i = 0; i < AWAITS; i++) sum += await step(i)
    return sum
  }
  const busy = async () => {
    let release
    const held = new Promise((resolve) => (release = resolve))
    let opened
    const isOpen = new Promise((resolve) => (opened = resolve))
    const tx = store.transaction(async (t) => {
      await t.sql.query('SELECT 1')
      opened()
      await held
    })
    await isOpen
    const t0 = performance.now()
    await work()
    const ms = performance.now() - t0
    release()
    await tx
    return ms
  }
  const timed = async (fn) => {
    const t0 = performance.now()
    await fn()
    return performance.now() - t0
  }
  // Warm-up of both code paths.
  for (const depth of DEPTHS) await transactions(depth)
  await busy()
  await work()
  const out = {busy: [], idle: []}
  for (const depth of DEPTHS) out[`tx${depth}`] = []
  for (let r = 0; r < REPEATS; r++) {
    for (const depth of DEPTHS) out[`tx${depth}`].push(await timed(() => transactions(depth)))
    out.busy.push(await busy())
    out.idle.push(await timed(work))
  }
  await store.close()
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(out).map(([phase, ms]) => [phase, median(ms)]))))
  process.exit(0)
}

if (!existsSync(path.join(dist, 'store/index.js')) || !existsSync(path.join(root, 'dist/pglite-template.tar.gz'))) {
  console.error('bench/store-tx.mjs: dist/ is missing — run `npm run build` first')
  process.exit(1)
}

const samples = {stack: [], async: []}
const base = mkdtempSync(path.join(process.env.BENCH_TMPDIR ?? os.tmpdir(), 'lobu-bench-store-tx-'))
try {
  for (let r = 0; r < rounds; r++) {
    for (const way of r % 2 ? ['async', 'stack'] : ['stack', 'async']) {
      const dir = path.join(base, `${way}-${r}`)
      // NODE_EXTRA_CA_CERTS only slows the start, not the phases: no need to drop it.
      const text = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', way, dir], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']})
      samples[way].push(JSON.parse(text))
    }
  }
} finally {
  rmSync(base, {recursive: true, force: true})
}

const phases = [...DEPTHS.map((d) => `tx${d}`), 'busy', 'idle']
const med = (way, phase) => median(samples[way].map((s) => s[phase]))
const rows = phases.map((phase) => ({phase, stackMs: med('stack', phase), asyncLocalMs: med('async', phase)}))
const total = {phase: 'total', stackMs: rows.reduce((n, r) => n + r.stackMs, 0), asyncLocalMs: rows.reduce((n, r) => n + r.asyncLocalMs, 0)}
const stackWinsBy = 1 - total.stackMs / total.asyncLocalMs
if (json) {
  console.log(JSON.stringify({node: process.version, rounds, rows: [...rows, total], stackWinsBy}))
} else {
  const labels = {
    ...Object.fromEntries(DEPTHS.map((d) => [`tx${d}`, `${TX} tx, ${FLOWS} flows + ${FLOWS} readers, depth ${d}`])),
    busy: `${AWAITS / 1000}k awaits, a transaction open`,
    idle: `${AWAITS / 1000}k awaits, none open`,
    total: 'total',
  }
  console.log(`store-tx (Node ${process.version}, ${rounds} processes each way, median of each)`)
  console.log(`${'phase'.padEnd(40)} ${'stack trick'.padStart(12)} ${'async-local'.padStart(12)} ${'ratio'.padStart(7)}`)
  for (const r of [...rows, total]) {
    console.log(`${labels[r.phase].padEnd(40)} ${`${r.stackMs.toFixed(1)} ms`.padStart(12)} ${`${r.asyncLocalMs.toFixed(1)} ms`.padStart(12)} ${(r.asyncLocalMs / r.stackMs).toFixed(2).padStart(7)}`)
  }
  console.log(
    `the stack trick ${stackWinsBy > 0 ? `wins by ${(stackWinsBy * 100).toFixed(1)} %` : `loses by ${(-stackWinsBy * 100).toFixed(1)} %`} on the total` +
      ` (target: the store keeps AsyncLocalStorage unless the stack trick wins by > 10 %)`,
  )
  console.log(`(machine: ${os.availableParallelism()} CPUs, load average ${os.loadavg()[0].toFixed(1)}; compare the columns of one run, not runs)`)
}

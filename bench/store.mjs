#!/usr/bin/env node
// Store boot cost, measured on the built package (run `npm run build` first).
//
//   node bench/store.mjs [--runs 3] [--initdb] [--json]
//
// Each sample is a fresh `node` process that takes the data-dir lock, loads the install key
// and opens the store (imports included), then reports wall time and RSS (the database runs in
// a worker thread of that process):
//   fresh     — a new data dir: restore of dist/pglite-template.tar.gz + migrations check
//   existing  — the same data dir reopened
//   prewarmed — reopened again, with the worker prewarmed first thing (as bin/run.js does)
//   initdb    — (with --initdb) a new data dir without the template, for comparison
// mainBlockMs: the longest stretch the main thread's event loop was blocked while opening
// (it only waits for the worker). BENCH_TMPDIR: where the data dirs go (default: os.tmpdir()).
// Targets for the whole gateway: fresh→/health ≤ 1.5 s, existing ≤ 0.8 s, idle RSS ≤ 300 MB.
// The machine is noisy: compare the rows of one run, not numbers across runs.
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = path.join(root, 'dist/lib/gateway')
const args = process.argv.slice(2)
const runs = Number(args[args.indexOf('--runs') + 1]) || 3
const json = args.includes('--json')
const withInitdb = args.includes('--initdb')

if (process.argv[2] === '--child') {
  const [, , , dataDir, templateArg, prewarm] = process.argv
  const t0 = performance.now()
  const prewarmModule = path.join(dist, 'store/pglite-prewarm.js')
  if (prewarm === 'prewarm' && existsSync(prewarmModule)) (await import(pathToFileURL(prewarmModule).href)).prewarmPglite()
  const {monitorEventLoopDelay} = await import('node:perf_hooks')
  const {acquireDataDirLock} = await import(pathToFileURL(path.join(dist, 'store/lock.js')).href)
  const {loadInstallKey} = await import(pathToFileURL(path.join(dist, 'crypto/index.js')).href)
  const {openStore} = await import(pathToFileURL(path.join(dist, 'store/index.js')).href)
  const tImport = performance.now()
  const lock = await acquireDataDirLock(dataDir)
  await loadInstallKey({env: {}, dataDir})
  const tLock = performance.now()
  const loop = monitorEventLoopDelay({resolution: 5})
  loop.enable()
  const store = await openStore({dataDir, templatePath: templateArg === 'none' ? null : undefined})
  const tOpen = performance.now()
  loop.disable()
  await store.orgs.list()
  const tQuery = performance.now()
  const rssOpen = process.memoryUsage().rss
  await new Promise((r) => setTimeout(r, 500))
  global.gc?.()
  const rssIdle = process.memoryUsage().rss
  await store.close()
  await lock.release()
  process.stdout.write(
    JSON.stringify({
      importMs: tImport - t0,
      lockAndKeyMs: tLock - tImport,
      openMs: tOpen - tLock,
      firstQueryMs: tQuery - tOpen,
      totalMs: tQuery - t0,
      mainBlockMs: loop.max / 1e6,
      rssMB: rssOpen / 1e6,
      idleRssMB: rssIdle / 1e6,
    }),
  )
  process.exit(0)
}

if (!existsSync(path.join(dist, 'store/index.js'))) {
  console.error('bench/store.mjs: dist/ is missing — run `npm run build` first')
  process.exit(1)
}
const template = path.join(root, 'dist/pglite-template.tar.gz')
if (!existsSync(template)) console.error('warning: dist/pglite-template.tar.gz is missing: "fresh" will run initdb')

function sample(dataDir, templateArg = 'default', prewarm = 'no') {
  const started = performance.now()
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', dataDir, templateArg, prewarm], {
    encoding: 'utf8',
  })
  return {...JSON.parse(out), processMs: performance.now() - started}
}

const base = process.env.BENCH_TMPDIR || os.tmpdir()
const results = {fresh: [], existing: [], prewarmed: [], initdb: []}
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(path.join(base, 'lobu-bench-'))
  try {
    results.fresh.push(sample(dir))
    results.existing.push(sample(dir))
    results.prewarmed.push(sample(dir, 'default', 'prewarm'))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
  if (withInitdb) {
    const dir2 = mkdtempSync(path.join(base, 'lobu-bench-'))
    try {
      results.initdb.push(sample(dir2, 'none'))
    } finally {
      rmSync(dir2, {recursive: true, force: true})
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const summary = {}
for (const [name, samples] of Object.entries(results)) {
  if (samples.length === 0) continue
  summary[name] = Object.fromEntries(Object.keys(samples[0]).map((k) => [k, Math.round(median(samples.map((s) => s[k])))]))
}

if (json) {
  process.stdout.write(JSON.stringify({runs, summary}, null, 2) + '\n')
} else {
  const cols = ['processMs', 'totalMs', 'importMs', 'lockAndKeyMs', 'openMs', 'firstQueryMs', 'mainBlockMs', 'rssMB', 'idleRssMB']
  console.log(`store boot, median of ${runs} (ms, MB)`)
  console.log(['case'.padEnd(10), ...cols.map((c) => c.padStart(13))].join(''))
  for (const [name, row] of Object.entries(summary)) console.log([name.padEnd(10), ...cols.map((c) => String(row[c]).padStart(13))].join(''))
}

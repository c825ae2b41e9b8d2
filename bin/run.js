#!/usr/bin/env node
// First of all: a Node older than the engines of package.json exits 2 with one line (node-version.js).
import {exitOnUnsupportedNode} from './node-version.js'

exitOnUnsupportedNode()
const argv = process.argv.slice(2)
// `lobu run` (dev, start) on the embedded database: start PGlite in a worker thread now, so it
// boots while oclif and the gateway load (src/lib/gateway/store/pglite-prewarm.ts). Best effort.
if (['run', 'dev', 'start'].includes(argv[0]) && !argv.some((a) => a === '--help' || a === '-h' || a === '--version') && !process.env.DATABASE_URL) {
  await import('../dist/lib/gateway/store/pglite-prewarm.js').then((m) => m.prewarmPglite(), () => {})
}
// `lobu --version` and `lobu --help` are answered without loading oclif (see src/lib/cli/fast-path.ts).
const {tryFastPath} = await import('../dist/lib/cli/fast-path.js').catch(() => ({tryFastPath: () => false}))
if (!tryFastPath(argv, new URL('../', import.meta.url))) {
  // oclif checks its own engines range (older than ours) with semver when it loads: ~30 ms of
  // every command's start-up, for a warning that never applies under our engines.
  const hadFlag = 'OCLIF_DISABLE_ENGINE_WARNING' in process.env
  if (!hadFlag) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
  const {execute} = await import('@oclif/core')
  if (!hadFlag) delete process.env.OCLIF_DISABLE_ENGINE_WARNING
  await execute({dir: import.meta.url})
}

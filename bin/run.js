#!/usr/bin/env node
const argv = process.argv.slice(2)
// `lobu run` (dev, start) on the embedded database: start PGlite in a worker thread now, so it
// boots while oclif and the gateway load (src/lib/gateway/store/pglite-prewarm.ts). Best effort.
if (['run', 'dev', 'start'].includes(argv[0]) && !argv.some((a) => a === '--help' || a === '-h' || a === '--version') && !process.env.DATABASE_URL) {
  await import('../dist/lib/gateway/store/pglite-prewarm.js').then((m) => m.prewarmPglite(), () => {})
}
// `lobu --version` and `lobu --help` are answered without loading oclif (see src/lib/cli/fast-path.ts).
const {tryFastPath} = await import('../dist/lib/cli/fast-path.js').catch(() => ({tryFastPath: () => false}))
if (!tryFastPath(argv, new URL('../', import.meta.url))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}

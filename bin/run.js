#!/usr/bin/env node
// `lobu --version` and `lobu --help` are answered without loading oclif (see src/lib/cli/fast-path.ts).
const {tryFastPath} = await import('../dist/lib/cli/fast-path.js').catch(() => ({tryFastPath: () => false}))
if (!tryFastPath(process.argv.slice(2), new URL('../', import.meta.url))) {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}

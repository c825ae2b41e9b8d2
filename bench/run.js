// `npm run bench`: runs every benchmark script in this folder, one after another.
// Benchmarks measure speed and memory targets; tests never assert timings.
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import os from 'node:os'
import {fileURLToPath} from 'node:url'
import path from 'node:path'

const dir = path.dirname(fileURLToPath(import.meta.url))
const only = process.argv[2]
const scripts = readdirSync(dir).filter((f) => f.endsWith('.mjs') && (!only || f.includes(only))).sort()
// What the figures were measured on: they compare only within one machine and one Node.
const cpus = os.cpus()
console.log(`node ${process.version} (${process.execPath}), ${os.platform()}-${os.arch()}`)
console.log(`machine: ${cpus.length} cores, ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`)
let failed = 0
for (const f of scripts) {
  console.log(`\n== ${f}`)
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, f)], {stdio: 'inherit', cwd: path.resolve(dir, '..')})
  if (r.status !== 0) failed++
}
process.exit(failed ? 1 : 0)

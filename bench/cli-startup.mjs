// Benchmark: wall time of `lobu --help` and `lobu --version` against `node -e 0`.
// Prints the median of N runs of each and the ratio to node's own start-up. Target: ≤ 2.0×.
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import path from 'node:path'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = path.join(root, 'bin', 'run.js')
const runs = Number(process.env.BENCH_RUNS ?? 15)

function time(args) {
  const start = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, {cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return ms
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const cases = {
  'node -e 0': ['-e', '0'],
  'lobu --help': [bin, '--help'],
  'lobu --version': [bin, '--version'],
}
// warm-up, then interleave so machine noise hits every case alike
for (const args of Object.values(cases)) time(args)
const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
for (let i = 0; i < runs; i++) for (const [k, args] of Object.entries(cases)) samples[k].push(time(args))

const base = median(samples['node -e 0'])
const result = {}
for (const [k, xs] of Object.entries(samples)) {
  const med = median(xs)
  result[k] = {medianMs: Number(med.toFixed(1)), ratio: Number((med / base).toFixed(2))}
  console.log(`${k.padEnd(16)} median ${med.toFixed(1).padStart(7)} ms   ${(med / base).toFixed(2)}× node -e 0`)
}
const worst = Math.max(result['lobu --help'].ratio, result['lobu --version'].ratio)
console.log(`cli start-up: worst ratio ${worst.toFixed(2)}× (target ≤ 2.0×, ${runs} runs each)`)
if (process.env.BENCH_JSON) console.log(JSON.stringify(result))

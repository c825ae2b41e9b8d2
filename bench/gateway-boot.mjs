// Benchmark: `lobu run` boot time and idle memory, whole process (built CLI).
//   fresh data dir  → /health ok   target ≤ 1.5 s
//   existing data dir → /health ok target ≤ 0.8 s
//   idle RSS of `lobu run`         target ≤ 300 MB
// Median of N boots each (BENCH_RUNS, default 5). Run `npm run build` first.
// Also the CPU time (all threads) the process had used when /health first answered ok, a
// steadier number than wall time on a busy machine. BENCH_TMPDIR: where the data dirs go
// (default os.tmpdir(); creating files is far slower in /tmp than elsewhere on some machines,
// and a fresh data dir is ~600 files). Machine settings that slow every Node.js start are left
// out of the boots' environment and reported (see MACHINE_STARTUP_VARS in support/harness.mjs).
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {get} from 'node:http'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {startCostNote, withoutMachineStartupVars} from './support/harness.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = path.join(root, 'bin', 'run.js')
const runs = Number(process.env.BENCH_RUNS ?? 5)

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const {port} = s.address()
      s.close(() => resolve(port))
    })
  })

async function boot(dataDir, home) {
  const port = await freePort()
  const env = withoutMachineStartupVars({...process.env, HOME: home, LOBU_CONFIG_DIR: path.join(home, 'cfg'), CI: '1', NO_COLOR: '1'})
  for (const k of Object.keys(env)) if (/_API_KEY$|^DATABASE_URL$/.test(k)) delete env[k]
  const start = performance.now()
  const child = spawn(process.execPath, [bin, 'run', '--port', String(port), '--data-dir', dataDir, '--no-apply', '--quiet'], {cwd: home, env, stdio: 'ignore'})
  for (;;) {
    if ((await healthStatus(port)) === 200) break
    if (child.exitCode !== null) throw new Error(`lobu run exited ${child.exitCode}`)
    await new Promise((r) => setTimeout(r, 10))
  }
  const ms = performance.now() - start
  return {child, ms, cpuMs: cpuMs(child.pid)}
}

/**
 * GET /health with node:http, no keep-alive: the status, or 0 when nothing answers. Cheaper per
 * attempt than fetch(), so polling every 10 ms takes little CPU from the process being measured
 * (on 2 cores the difference showed in the boot times).
 */
function healthStatus(port) {
  return new Promise((resolve) => {
    const req = get({host: '127.0.0.1', port, path: '/health', agent: false}, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
    })
    req.once('error', () => resolve(0))
  })
}

/** utime + stime of a process (all its threads), in ms. */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // clock ticks: 100 Hz on Linux
  } catch {
    return NaN
  }
}

async function stop(child) {
  child.kill('SIGINT')
  await new Promise((r) => child.once('exit', r))
}

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const fresh = []
const existing = []
const rss = []
const freshCpu = []
const existingCpu = []
const base = process.env.BENCH_TMPDIR || tmpdir()
for (let i = 0; i < runs; i++) {
  const home = mkdtempSync(path.join(base, 'lobu-bench-'))
  const dataDir = path.join(home, 'data')
  try {
    const a = await boot(dataDir, home)
    fresh.push(a.ms)
    freshCpu.push(a.cpuMs)
    await stop(a.child)
    const b = await boot(dataDir, home)
    existing.push(b.ms)
    existingCpu.push(b.cpuMs)
    await new Promise((r) => setTimeout(r, 2000))
    rss.push(rssMb(b.child.pid))
    await stop(b.child)
  } finally {
    rmSync(home, {recursive: true, force: true})
  }
}
const line = (label, v, target, unit) => console.log(`${label.padEnd(34)} median ${v.toFixed(unit === 'MB' ? 0 : 0).padStart(6)} ${unit}   target ≤ ${target} ${unit}`)
line('fresh data dir → /health ok', median(fresh), 1500, 'ms')
line('existing data dir → /health ok', median(existing), 800, 'ms')
line('idle RSS of lobu run', median(rss), 300, 'MB')
console.log(`(${runs} boots each in ${base}; samples fresh ${fresh.map((x) => x.toFixed(0)).join(' ')} / existing ${existing.map((x) => x.toFixed(0)).join(' ')} ms)`)
console.log(`(CPU used by /health ok, median: fresh ${median(freshCpu).toFixed(0)} ms, existing ${median(existingCpu).toFixed(0)} ms)`)
const note = startCostNote()
if (note) console.log(note)

// Shared pieces of the benchmark scripts (bench/*.mjs): statistics, an isolated sandbox (temp
// HOME and config dir), `lobu run` and the fake provider as child processes, and a bounded
// clean-up of both. Loopback only. Not a benchmark itself (bench/run.js runs bench/*.mjs only).
import {spawn, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, openSync, rmSync} from 'node:fs'
import {createServer} from 'node:net'
import {availableParallelism, loadavg, tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const bin = path.join(root, 'bin', 'run.js')

// ---------- statistics ----------

export function percentile(xs, p) {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  // nearest-rank: the smallest value with at least p % of the samples at or below it
  const rank = Math.max(1, Math.ceil((p / 100) * s.length))
  return s[Math.min(s.length, rank) - 1]
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export const fmt = (ms, digits = 1) => (Number.isFinite(ms) ? ms.toFixed(digits) : String(ms))

/** One result line: label, value(s), target, like the other bench scripts. */
export function line(label, values, target) {
  console.log(`${label.padEnd(44)} ${values.padEnd(34)} target ${target}`)
}

/** CPUs and load: numbers from a busy machine are not comparable with a quiet one's. */
export function machineLine() {
  const [one] = loadavg()
  return `(machine: ${availableParallelism()} CPUs, load average ${one.toFixed(1)} at start; compare rows of one run, not runs)`
}

// ---------- processes and ports ----------

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address()
      s.close(() => resolve(port))
    })
  })
}

const LEAKY = /^(LOBU_|XDG_)|_API_KEY$|_BASE_URL$|^(DATABASE_URL|OLLAMA_HOST|FORCE_COLOR|NODE_OPTIONS|DEBUG|ENCRYPTION_KEY)$/

/**
 * Settings of the machine (not of lobu) that slow down every Node.js start: NODE_EXTRA_CA_CERTS
 * makes Node parse a whole CA bundle before any JavaScript runs (≈70 ms per process on the
 * 2-core machine these numbers come from). The benchmarks' children run without them, as on a
 * default install; startCostNote() says what they cost here. BENCH_KEEP_ENV=1 keeps them.
 */
export const MACHINE_STARTUP_VARS = process.env.BENCH_KEEP_ENV === '1' ? [] : ['NODE_EXTRA_CA_CERTS']

/** `env` without MACHINE_STARTUP_VARS. */
export function withoutMachineStartupVars(env) {
  const out = {...env}
  for (const k of MACHINE_STARTUP_VARS) delete out[k]
  return out
}

/**
 * A line saying which MACHINE_STARTUP_VARS are set here and what they add to `node -e 0`
 * (median of 7 starts each, interleaved), or '' when none is set.
 */
export function startCostNote() {
  const set = MACHINE_STARTUP_VARS.filter((k) => process.env[k])
  if (set.length === 0) return ''
  const time = (env) => {
    const t0 = performance.now()
    spawnSync(process.execPath, ['-e', '0'], {env, stdio: 'ignore'})
    return performance.now() - t0
  }
  const withVars = []
  const without = []
  for (let i = 0; i < 7; i++) {
    withVars.push(time(process.env))
    without.push(time(withoutMachineStartupVars(process.env)))
  }
  const cost = median(withVars) - median(without)
  return `(${set.join(', ')} is set on this machine and adds ${fmt(cost, 0)} ms to every node start here (node -e 0: ${fmt(median(withVars), 0)} vs ${fmt(median(without), 0)} ms); lobu's processes above ran without it, as on a default install — BENCH_KEEP_ENV=1 keeps it)`
}

/**
 * A temp HOME, LOBU_CONFIG_DIR and XDG dirs; `env(extra)` is the caller's environment without
 * anything that could change lobu's behaviour, plus the isolation and `extra`.
 */
export function sandbox(prefix = 'lobu-bench-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  const d = (...p) => {
    const full = path.join(dir, ...p)
    mkdirSync(full, {recursive: true})
    return full
  }
  const iso = {
    HOME: d('home'),
    LOBU_CONFIG_DIR: d('config', 'lobu'),
    XDG_CONFIG_HOME: d('xdg', 'config'),
    XDG_DATA_HOME: d('xdg', 'data'),
    XDG_STATE_HOME: d('xdg', 'state'),
    XDG_CACHE_HOME: d('xdg', 'cache'),
    CI: '1',
    NO_COLOR: '1',
    OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
  }
  const env = (extra = {}) => {
    const out = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !LEAKY.test(k)) out[k] = v
    return withoutMachineStartupVars({...out, ...iso, ...extra})
  }
  return {dir, mkdir: d, env, cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

const children = new Set()

/** Spawn a child that is killed (SIGKILL) when this process exits, however it exits. */
export function spawnTracked(cmd, args, options) {
  const child = spawn(cmd, args, options)
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

/** SIGINT (clean shutdown), SIGKILL after `graceMs`. */
export async function stopChild(child, graceMs = 5_000) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGINT')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

function collect(stream) {
  let text = ''
  stream?.on('data', (b) => (text += b.toString()))
  return () => text
}

async function waitFor(check, {child, what, timeoutMs, output}) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (child.exitCode !== null) throw new Error(`${what}: exited ${child.exitCode}\n${output?.() ?? ''}`)
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${timeoutMs} ms\n${output?.() ?? ''}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * `lobu run --port PORT ...args` (the built CLI) in `cwd`; resolves once its banner is printed
 * (booted, token stored, context `local` set, lobu.toml applied unless --no-apply).
 * `nodeArgs` go before bin/run.js (e.g. `--cpu-prof`).
 */
export async function startLobuRun({cwd, env, args = [], nodeArgs = [], timeoutMs = 60_000}) {
  const port = await freePort()
  // BENCH_GATEWAY_STDOUT=FILE keeps the gateway's stdout (e.g. BENCH_NODE_ARGS=--trace-gc).
  const out = process.env.BENCH_GATEWAY_STDOUT ? openSync(process.env.BENCH_GATEWAY_STDOUT, 'w') : 'ignore'
  const child = spawnTracked(process.execPath, [...nodeArgs, bin, 'run', '--port', String(port), ...args], {cwd, env, stdio: ['ignore', out, 'pipe']})
  const stderr = collect(child.stderr)
  await waitFor(() => /Try: lobu chat/.test(stderr()), {child, what: 'lobu run', timeoutMs, output: stderr})
  return {child, port, url: `http://127.0.0.1:${port}`, stderr, stop: () => stopChild(child)}
}

/**
 * The fake provider (test/support/fake-provider.ts) in its own process, so its work does not
 * share an event loop with the gateway or the benchmark's client. `control(action, ...args)`
 * drives it (`reply`, `slow`, `reset`…).
 */
export async function startFakeProviderProcess({timeoutMs = 30_000} = {}) {
  const script = path.join(root, 'test', 'support', 'fake-provider.ts')
  const child = spawnTracked(process.execPath, ['--import', 'tsx', script, '--port', '0'], {cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, NODE_OPTIONS: ''}})
  const stdout = collect(child.stdout)
  const stderr = collect(child.stderr)
  await waitFor(() => stdout().includes('\n'), {child, what: 'fake provider', timeoutMs, output: stderr})
  const urls = JSON.parse(stdout().split('\n')[0])
  const origin = `http://127.0.0.1:${urls.port}`
  const control = async (action, ...args) => {
    const res = await fetch(`${origin}/__fake/control`, {method: 'POST', body: JSON.stringify({action, args})})
    if (res.status !== 204) throw new Error(`fake provider control ${action}: ${res.status} ${await res.text()}`)
  }
  return {child, urls, control, stop: () => stopChild(child)}
}

/**
 * Run `fn` with a wall-clock bound: when it does not finish within `ms`, print why, clean up
 * through `onTimeout` and exit 1 (a benchmark must never hang `npm run bench`).
 */
export function bounded(ms, what, onTimeout) {
  const timer = setTimeout(async () => {
    console.error(`${what}: still running after ${Math.round(ms / 1000)} s, giving up`)
    try {
      await onTimeout?.()
    } finally {
      process.exit(1)
    }
  }, ms)
  timer.unref()
  return () => clearTimeout(timer)
}

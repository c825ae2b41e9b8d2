// Benchmark: chat latency through the gateway (built CLI `lobu run`, fake provider on loopback).
//   a. time to first token: the gateway (POST /api/v1/sessions/:key/messages with
//      Accept: text/event-stream → first `delta` event) vs the provider layer (`streamTurn`)
//      calling the fake provider directly; overhead p50 ≤ 5 ms, p99 ≤ 20 ms
//   b. 200 concurrent turns whose provider reply is 50 deltas: errors (target 0) and p99
//      overhead of the whole turn (request start → `done`) through the gateway over the same
//      turns sent directly with `streamTurn` at the same concurrency (target ≤ 100 ms), over the
//      rounds after the warm-up rounds (the first burst and the rest of the warm-up are reported
//      on their own lines: V8 keeps optimizing both sides' code over the first ~2000 turns, and
//      until then the gateway spends up to twice the CPU per turn; the measured rounds are the
//      steady state of a gateway that has been serving for a while). The first burst also measures
//      V8 optimizing both sides' code), and the gateway process's CPU time per turn over them,
//      per thread (/proc/<pid>/task: less distorted by a busy machine than the latencies)
//   c. `lobu chat -c local "hi"` from spawn to the first byte on stdout, against the running
//      gateway (target ≤ 400 ms), next to `node -e 0` measured in the same loop
// The fake provider (test/support/fake-provider.ts) and `lobu run` each run in their own process,
// so neither shares an event loop with this client. Every turn uses a new thread (a new session),
// as `lobu chat` without -t does. Knobs: BENCH_TTFT_TURNS (300), BENCH_CONCURRENT (200),
// BENCH_ROUNDS (5 measured rounds of b), BENCH_WARMUP_ROUNDS (10: rounds of b before those, reported apart), BENCH_RUNS (15 runs of c), BENCH_CHUNK_DELAY_MS (0: the provider
// sends its 50 deltas at once), BENCH_SETTLE_MS (300: pause after a round's turns through the gateway,
// whose CPU counts for them), BENCH_PARTS (abc: which measurements), BENCH_NODE_ARGS (node flags
// of `lobu run`, e.g. --trace-gc), BENCH_PROF=DIR (CPU profiles
// of the gateway, written when it stops, and of each `lobu chat` run into DIR).
// Run `npm run build` first.
import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {createParser} from 'eventsource-parser'
import {Agent, request} from 'undici'

import {bin, bounded, startCostNote, fmt, line, machineLine, median, percentile, root, sandbox, spawnTracked, startFakeProviderProcess, startLobuRun} from './support/harness.mjs'

const TTFT_TURNS = Number(process.env.BENCH_TTFT_TURNS ?? 300)
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 200)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP_ROUNDS ?? 10)
const CLI_RUNS = Math.max(10, Number(process.env.BENCH_RUNS ?? 15))
const CHUNK_DELAY_MS = Number(process.env.BENCH_CHUNK_DELAY_MS ?? 0)
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 300)
const PARTS = process.env.BENCH_PARTS ?? 'abc'
const TOKENS = 50
const AGENT = 'bench'
const MODEL = 'gpt-4o-mini'
const KEY = 'sk-bench-chat-0000'
const IDENTITY = '# Bench\n\nYou are a benchmark agent. Answer briefly.\n'

if (!existsSync(path.join(root, 'dist', 'commands'))) {
  console.error('dist/ is missing: run `npm run build` first')
  process.exit(1)
}

const machine = machineLine()
const box = sandbox('lobu-bench-chat-')
const dispatcher = new Agent({keepAliveTimeout: 30_000, connections: null})
let fake
let gateway
let closeProviderAgent = async () => {}
const cleanup = async () => {
  await gateway?.stop()
  await fake?.stop()
  await closeProviderAgent()
  await dispatcher.close().catch(() => {})
  box.cleanup()
}
const done = bounded(10 * 60_000, 'chat benchmark', cleanup)

// ---------- the project and the two ways of calling the model ----------

function writeProject(dir, baseUrl) {
  mkdirSync(path.join(dir, 'agents', AGENT), {recursive: true})
  writeFileSync(path.join(dir, 'agents', AGENT, 'IDENTITY.md'), IDENTITY)
  writeFileSync(
    path.join(dir, 'lobu.toml'),
    [
      '[project]',
      'id = "bench-chat-a1b2c3"',
      '',
      `[agents.${AGENT}]`,
      'name = "Bench"',
      `dir = "./agents/${AGENT}"`,
      '',
      `[[agents.${AGENT}.providers]]`,
      'id = "openai"',
      `model = "${MODEL}"`,
      `base_url = "${baseUrl}"`,
      'key = "$OPENAI_API_KEY"',
      '',
    ].join('\n'),
  )
}

function cliRun(args, cwd, env) {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(process.execPath, [bin, ...args], {cwd, env, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (b) => (out += b))
    child.stderr.on('data', (b) => (err += b))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`lobu ${args.join(' ')} exited ${code}: ${err}`))))
  })
}

async function api(url, token, method, pathname, body) {
  const res = await request(url + pathname, {
    method,
    dispatcher,
    headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.body.text()
  if (res.statusCode >= 300) throw new Error(`${method} ${pathname}: ${res.statusCode} ${text}`)
  return JSON.parse(text)
}

let threads = 0
const newSession = (gw) => api(gw.url, gw.token, 'POST', '/api/v1/sessions', {agentId: AGENT, thread: `bench-${process.pid}-${++threads}`})

/** One turn through the gateway: request start → first `delta` (ttft) and → `done`/`error` (total). */
async function gatewayTurn(gw, sessionKey, content) {
  const start = performance.now()
  const res = await request(`${gw.url}/api/v1/sessions/${sessionKey}/messages`, {
    method: 'POST',
    dispatcher,
    headers: {authorization: `Bearer ${gw.token}`, 'content-type': 'application/json', accept: 'text/event-stream'},
    body: JSON.stringify({content}),
    bodyTimeout: 0,
  })
  if (res.statusCode !== 200) throw new Error(`POST messages: ${res.statusCode} ${await res.body.text()}`)
  let ttft
  let total
  let deltas = 0
  let terminal
  const parser = createParser({
    onEvent(ev) {
      if (ev.event === 'delta') {
        ttft ??= performance.now() - start
        deltas++
      } else if (ev.event === 'done' || ev.event === 'error') {
        total ??= performance.now() - start
        terminal ??= {event: ev.event, data: ev.data}
      }
    },
  })
  const decoder = new TextDecoder()
  for await (const chunk of res.body) parser.feed(decoder.decode(chunk, {stream: true}))
  if (!terminal) throw new Error('the stream ended without done/error')
  if (terminal.event === 'error') throw new Error(`turn error: ${terminal.data}`)
  return {ttft, total, deltas}
}

/** The same turn sent by the provider layer itself, straight to the fake provider. */
async function directTurn(streamTurn, target, content) {
  const start = performance.now()
  let ttft
  let deltas = 0
  for await (const ev of streamTurn({target, system: IDENTITY, messages: [{role: 'user', content}], signal: AbortSignal.timeout(60_000), timeoutMs: 60_000})) {
    if (ev.type === 'delta' && ev.text) {
      ttft ??= performance.now() - start
      deltas++
    }
  }
  return {ttft, total: performance.now() - start, deltas}
}

/** Spawn → first byte on stdout (and the whole run), for `lobu chat` and `node -e 0`. */
function timeSpawn(args, cwd, env) {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawnTracked(process.execPath, args, {cwd, env, stdio: ['ignore', 'pipe', 'pipe']})
    let first
    let out = ''
    let err = ''
    child.stdout.on('data', (b) => {
      first ??= performance.now() - start
      out += b
    })
    child.stderr.on('data', (b) => (err += b))
    child.once('error', reject)
    child.once('close', (code) => {
      const total = performance.now() - start
      if (code !== 0) reject(new Error(`${args.slice(1).join(' ')} exited ${code}: ${err}`))
      else resolve({first, total, out})
    })
  })
}

const profArgs = () => (process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROF)}`] : [])
const p = (xs, q) => percentile(xs, q)
const ms = (x) => `${fmt(x)} ms`
const signed = (x) => `${x >= 0 ? '+' : ''}${fmt(x)} ms`

/** a. Time to first token, one turn at a time, direct and through the gateway interleaved. */
async function ttft({gateway, streamTurn, target}) {
  await fake.control('reply', {chunks: ['Hello', ' there', '!']})
  const a = {direct: [], gateway: [], withSession: []}
  const WARMUP = 30
  for (let i = 0; i < WARMUP + TTFT_TURNS; i++) {
    const d = await directTurn(streamTurn, target, 'hi')
    const s0 = performance.now()
    const session = await newSession(gateway)
    const sessionMs = performance.now() - s0
    const g = await gatewayTurn(gateway, session.sessionKey, 'hi')
    if (d.deltas !== 3 || g.deltas !== 3) throw new Error(`a: expected 3 deltas, got direct ${d.deltas} / gateway ${g.deltas}`)
    if (i < WARMUP) continue
    a.direct.push(d.ttft)
    a.gateway.push(g.ttft)
    a.withSession.push(sessionMs + g.ttft)
  }
  const over = (xs, q) => signed(p(xs, q) - p(a.direct, q))
  line('a. TTFT direct (streamTurn → fake provider)', `p50 ${ms(p(a.direct, 50))}  p99 ${ms(p(a.direct, 99))}`, '(baseline)')
  line('a. TTFT via gateway (POST messages → delta)', `p50 ${ms(p(a.gateway, 50))}  p99 ${ms(p(a.gateway, 99))}`, '(measured)')
  line('a. gateway TTFT overhead (via − direct)', `p50 ${over(a.gateway, 50)}  p99 ${over(a.gateway, 99)}`, 'p50 ≤ 5 ms, p99 ≤ 20 ms')
  line('   + POST /sessions first, as lobu chat does', `p50 ${over(a.withSession, 50)}  p99 ${over(a.withSession, 99)}`, '(reference)')
  console.log(`   (${TTFT_TURNS} turns each after ${WARMUP} warm-up, interleaved; a new session per gateway turn; instant 3-delta reply)`)
}

/**
 * CPU time (user + system, ms) of a process, of its main thread and of each of its threads, from
 * /proc (Linux; null elsewhere). A process's own CPU time is barely distorted by a busy machine,
 * unlike latencies.
 */
function cpuTimes(pid) {
  const read = (file) => {
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15 (in clock ticks).
    const stat = readFileSync(file, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
  }
  try {
    const threads = new Map()
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threads.set(tid, read(`/proc/${pid}/task/${tid}/stat`))
      } catch {
        // the thread ended meanwhile
      }
    }
    return {process: read(`/proc/${pid}/stat`), main: read(`/proc/${pid}/task/${pid}/stat`), threads}
  } catch {
    return null
  }
}

/** CPU per turn of the main thread, of the busiest other thread (the database worker) and of the rest. */
function cpuSplit(cpu0, cpu1, pid, turns) {
  let busiest = 0
  for (const [tid, t] of cpu1.threads) {
    if (tid === String(pid)) continue
    busiest = Math.max(busiest, t - (cpu0.threads.get(tid) ?? 0))
  }
  const total = cpu1.process - cpu0.process
  const main = cpu1.main - cpu0.main
  // Every other thread (V8's GC and compiler helpers, libuv's pool, the database worker).
  const others = []
  for (const [tid, t] of cpu1.threads) if (tid !== String(pid)) others.push(t - (cpu0.threads.get(tid) ?? 0))
  return {total: total / turns, main: main / turns, worker: busiest / turns, rest: (total - main - busiest) / turns, others: others.sort((a, b) => b - a)}
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100

/** One round of b: CONCURRENT simultaneous turns sent directly, then as many through the gateway. */
async function concurrentRound({gateway, streamTurn, target}, b, errorSamples) {
  // the provider's own time at this concurrency
  const phase0 = phaseCpu(gateway)
  let w0 = performance.now()
  const direct = await Promise.allSettled(Array.from({length: CONCURRENT}, () => directTurn(streamTurn, target, 'hi')))
  b.wallDirect.push(performance.now() - w0)
  b.cpuDirect.push(phaseCpu(gateway, phase0))
  for (const r of direct) {
    if (r.status === 'fulfilled' && r.value.deltas === TOKENS) {
      b.direct.push(r.value.total)
      b.directTtft.push(r.value.ttft)
    } else b.directErrors++
  }
  // the same through the gateway, a new session each (created before the clock starts)
  const sessions = await Promise.all(Array.from({length: CONCURRENT}, () => newSession(gateway)))
  const phase1 = phaseCpu(gateway)
  const threads0 = cpuTimes(gateway.child.pid)
  w0 = performance.now()
  const via = await Promise.allSettled(sessions.map((s, i) => gatewayTurn({...gateway, token: gateway.tokens[i % gateway.tokens.length]}, s.sessionKey, 'hi')))
  b.wallGateway.push(performance.now() - w0)
  // What the gateway does for these turns after their `done` (storing them) counts as theirs, and
  // must not run into the next round's direct turns.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
  b.cpuGateway.push(phaseCpu(gateway, phase1))
  const threads1 = cpuTimes(gateway.child.pid)
  if (threads0 && threads1) b.splits.push(cpuSplit(threads0, threads1, gateway.child.pid, CONCURRENT))
  const totals = (rs) => rs.filter((r) => r.status === 'fulfilled').map((r) => r.value.total)
  b.roundP99.push({direct: p(totals(direct), 99), via: p(totals(via), 99)})
  for (const r of via) {
    b.turns++
    if (r.status === 'fulfilled' && r.value.deltas === TOKENS) {
      b.gateway.push(r.value.total)
      b.gatewayTtft.push(r.value.ttft)
    } else {
      b.errors++
      if (errorSamples.length < 3) errorSamples.push(r.status === 'rejected' ? String(r.reason?.message ?? r.reason) : `${r.value.deltas} deltas`)
    }
  }
}

/** CPU (ms) of this client, the fake provider and the gateway since `from` (or now, when absent). */
function phaseCpu(gateway, from) {
  const own = process.cpuUsage()
  const now = {client: (own.user + own.system) / 1000, provider: cpuTimes(fake.child.pid)?.process ?? NaN, gateway: cpuTimes(gateway.child.pid)?.process ?? NaN}
  if (!from) return now
  return {client: now.client - from.client, provider: now.provider - from.provider, gateway: now.gateway - from.gateway}
}

const newRounds = () => ({roundP99: [], splits: [], cpuDirect: [], cpuGateway: [], direct: [], gateway: [], directTtft: [], gatewayTtft: [], errors: 0, directErrors: 0, turns: 0, wallDirect: [], wallGateway: []})

/**
 * b. WARMUP_ROUNDS rounds (the first bursts this gateway and this client see: code not yet
 * optimized on either side; the first one, on a cold gateway, reported apart from the rest),
 * then ROUNDS measured rounds.
 */
async function concurrent(ctx) {
  const {gateway} = ctx
  await fake.control('reply', {chunks: Array.from({length: TOKENS}, (_, i) => `tok${i} `), delayMs: CHUNK_DELAY_MS})
  const errorSamples = []
  const first = newRounds()
  const warm = newRounds()
  for (let round = 0; round < WARMUP_ROUNDS; round++) await concurrentRound(ctx, round === 0 ? first : warm, errorSamples)
  const b = newRounds()
  const cpu0 = cpuTimes(gateway.child.pid)
  for (let round = 0; round < ROUNDS; round++) await concurrentRound(ctx, b, errorSamples)
  const cpu1 = cpuTimes(gateway.child.pid)
  const over = (via, direct, q) => signed(p(via, q) - p(direct, q))
  const errors = b.errors + warm.errors + first.errors
  line(`b. ${CONCURRENT} concurrent × ${TOKENS} tokens: errors`, `${errors} of ${b.turns + warm.turns + first.turns} turns`, '0')
  for (const e of errorSamples) console.log(`   error: ${e.slice(0, 200)}`)
  const directErrors = b.directErrors + warm.directErrors + first.directErrors
  if (directErrors) console.log(`   (${directErrors} direct turns failed: the baseline is short of samples)`)
  if (WARMUP_ROUNDS > 0) {
    line('   first burst (cold gateway): p99 overhead', `p99 ${over(first.gateway, first.direct, 99)}  (p50 ${over(first.gateway, first.direct, 50)})`, '(reference, not measured below)')
  }
  if (WARMUP_ROUNDS > 1) {
    line(`   warm-up bursts 2–${WARMUP_ROUNDS}: p99 overhead`, `p99 ${over(warm.gateway, warm.direct, 99)}  (p50 ${over(warm.gateway, warm.direct, 50)})`, '(reference, not measured below)')
  }
  line('b. turn time direct (request → done)', `p50 ${ms(p(b.direct, 50))}  p99 ${ms(p(b.direct, 99))}`, '(baseline)')
  line('b. turn time via gateway (request → done)', `p50 ${ms(p(b.gateway, 50))}  p99 ${ms(p(b.gateway, 99))}`, '(measured)')
  line('b. p99 overhead, whole turn (via − direct)', `p99 ${over(b.gateway, b.direct, 99)}  (p50 ${over(b.gateway, b.direct, 50)})`, '≤ 100 ms')
  line('   p99 overhead, first token (via − direct)', `p99 ${over(b.gatewayTtft, b.directTtft, 99)}  (p50 ${over(b.gatewayTtft, b.directTtft, 50)})`, '(reference)')
  if (cpu0 && cpu1 && b.turns > 0) {
    const c = cpuSplit(cpu0, cpu1, gateway.child.pid, b.turns)
    line('b. gateway CPU per turn (user+sys)', `${ms(c.total)}  (main ${fmt(c.main)}, db ${fmt(c.worker)}, other ${fmt(c.rest)})`, '(measured; incl. session creation)')
    console.log(`   (CPU ms per turn of each other thread, busiest first: ${c.others.filter((t) => t > 0).map((t) => fmt(t / b.turns, 2)).join(', ')})`)
  }
  if (b.splits.length > 0) {
    const sum = (k) => b.splits.reduce((acc, x) => acc + x[k], 0) / b.splits.length
    line('   gateway CPU per turn, turns only', `${ms(sum('total'))}  (main ${fmt(sum('main'))}, db ${fmt(sum('worker'))}, other ${fmt(sum('rest'))})`, '(reference; sessions created before)')
  }
  const walls = (xs) => xs.map((x) => x.toFixed(0)).join('/')
  const cpuOf = (xs) => ['client', 'provider', 'gateway'].map((k) => `${k} ${fmt(median(xs.map((x) => x[k])), 0)}`).join(', ')
  console.log(`   (CPU ms of a round, median: direct: ${cpuOf(b.cpuDirect)}; via gateway: ${cpuOf(b.cpuGateway)})`)
  // One slow round (this machine slows down now and then, the direct rounds too) makes the p99.
  console.log(`   (p99 turn time of each round, direct/via: ${b.roundP99.map((r) => `${fmt(r.direct, 0)}/${fmt(r.via, 0)}`).join('  ')} ms)`)
  console.log(`   (${ROUNDS} rounds; wall time of a round: direct ${walls(b.wallDirect)} ms, via gateway ${walls(b.wallGateway)} ms; provider pause between deltas ${CHUNK_DELAY_MS} ms)`)
}

/** c. `lobu chat -c local "hi"` spawn → first stdout byte, interleaved with `node -e 0`. */
async function cliChat({project, env}) {
  await fake.control('reply', {chunks: ['Hello', ' there', '!']})
  const chatArgs = [...profArgs(), bin, 'chat', '-c', 'local', 'hi']
  const samples = {chat: [], chatTotal: [], node: []}
  await timeSpawn(chatArgs, project, env) // warm-up
  await timeSpawn(['-e', '0'], project, env)
  for (let i = 0; i < CLI_RUNS; i++) {
    const c = await timeSpawn(chatArgs, project, env)
    if (c.out !== 'Hello there!\n') throw new Error(`c: unexpected stdout ${JSON.stringify(c.out)}`)
    samples.chat.push(c.first)
    samples.chatTotal.push(c.total)
    samples.node.push((await timeSpawn(['-e', '0'], project, env)).total)
  }
  line('c. lobu chat: spawn → first stdout byte', `median ${ms(median(samples.chat))}  (whole run ${ms(median(samples.chatTotal))})`, '≤ 400 ms')
  line('   node -e 0 (same loop)', `median ${ms(median(samples.node))}`, '(reference)')
  console.log(`   (${CLI_RUNS} runs; samples ${samples.chat.map((x) => x.toFixed(0)).join(' ')} ms)`)
}

try {
  fake = await startFakeProviderProcess()
  const project = box.mkdir('project')
  writeProject(project, fake.urls.openai)
  const env = box.env({OPENAI_API_KEY: KEY})
  const run = await startLobuRun({cwd: project, env, nodeArgs: [...profArgs(), ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [])]})
  const {token} = JSON.parse(await cliRun(['token', 'create', '-c', 'local', '--name', 'bench-chat', '--scope', 'chat', '--json'], project, env))
  // A token may hold at most 32 open event streams (docs/SECURITY.md, S29): part b's concurrent
  // turns are spread over enough tokens of the same user (sessions belong to the user, not the token).
  const tokens = [token]
  const perToken = 32
  while (PARTS.includes('b') && tokens.length * perToken < CONCURRENT) {
    tokens.push(JSON.parse(await cliRun(['token', 'create', '-c', 'local', '--name', `bench-chat-${tokens.length}`, '--scope', 'chat', '--json'], project, env)).token)
  }
  gateway = {...run, token, tokens}

  const providers = await import(pathToFileURL(path.join(root, 'dist/lib/gateway/providers/index.js')).href)
  closeProviderAgent = providers.closeProviderAgent
  const ctx = {gateway, project, env, streamTurn: providers.streamTurn, target: {id: 'openai', dialect: 'openai', baseUrl: fake.urls.openai, model: MODEL, apiKey: KEY}}
  if (PARTS.includes('a')) await ttft(ctx)
  if (PARTS.includes('b')) await concurrent(ctx)
  if (PARTS.includes('c')) await cliChat(ctx)
  console.log(machine)
  const note = startCostNote()
  if (note) console.log(note)
} catch (err) {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err)
  process.exitCode = 1
} finally {
  await cleanup()
  done()
}

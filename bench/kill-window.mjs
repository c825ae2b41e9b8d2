// Measurement: which chat turns does `kill -9` of `lobu run` lose, relative to when their `done`
// reached the client? With PGlite a turn's `done` leaves as soon as the turn is queued to be
// stored and turns are committed together a little later (README "Where data lives"); with
// --durable `done` leaves only after the commit.
//
//   node bench/kill-window.mjs [--cycles 20] [--clients 8] [--load 2] [--durable]
//
// Each cycle: `lobu run --no-apply` on one data dir, first checks every turn whose `done` the
// previous cycle saw (GET the session: is the turn stored?), then runs `--clients` chat loops
// (two turns per session, the second sent right after the first's `done`), kills the gateway
// with SIGKILL at a random moment 0–0.5 s after `--clients` turns have ended, and notes the time. `--load N` runs N busy
// processes meanwhile (CPU contention). Prints every lost turn's done→kill gap and the largest.
// Needs `npm run build` first. Not part of `npm run bench`.
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {parseArgs} from 'node:util'

import {sandbox, spawnTracked, startFakeProviderProcess, startLobuRun} from './support/harness.mjs'

const {values: opts} = parseArgs({
  options: {
    cycles: {type: 'string', default: '20'},
    clients: {type: 'string', default: '8'},
    load: {type: 'string', default: '0'},
    durable: {type: 'boolean', default: false},
  },
})
const cycles = Number(opts.cycles)
const clients = Number(opts.clients)
const load = Number(opts.load)

const box = sandbox('lobu-kill-window-')
const fake = await startFakeProviderProcess()
const env = box.env({OPENAI_API_KEY: 'sk-kill-window', OPENAI_BASE_URL: fake.urls.openai})
const cwd = box.mkdir('work')
const dataDir = path.join(box.dir, 'data')
const burners = Array.from({length: load}, () => spawnTracked(process.execPath, ['-e', 'for(;;){}'], {stdio: 'ignore'}))

function tokenFor(url) {
  const file = JSON.parse(readFileSync(path.join(env.LOBU_CONFIG_DIR, 'credentials.json'), 'utf8'))
  // credentials.json version 2: accounts per origin; the local admin account of `lobu run`.
  const accounts = file.origins?.[new URL(url).origin]?.accounts ?? []
  return (accounts.find((a) => a.kind === 'local-admin') ?? accounts[0])?.token
}

async function api(url, token, p, {method = 'GET', body, signal} = {}) {
  const res = await fetch(url + p, {method, signal, headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'}, body: body === undefined ? undefined : JSON.stringify(body)})
  return {status: res.status, body: await res.json().catch(() => undefined)}
}

/** One turn over SSE: resolves with the time its terminal event arrived and the event's name. */
async function turn(url, token, key, content, signal) {
  const res = await fetch(`${url}/api/v1/sessions/${key}/messages`, {method: 'POST', signal, headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream'}, body: JSON.stringify({content})})
  if (res.status !== 200) throw new Error(`turn: HTTP ${res.status}`)
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of res.body) {
    text += decoder.decode(chunk, {stream: true})
    const m = /event: (done|error)\n/.exec(text)
    if (m) return {at: performance.now(), event: m[1]}
  }
  throw new Error('turn: stream ended without a terminal event')
}

let seen = [] // turns whose done the client saw, waiting to be checked after the restart
const lost = []
let checked = 0
let counter = 0

for (let cycle = 0; cycle < cycles; cycle++) {
  const run = await startLobuRun({cwd, env, args: ['--no-apply', '--data-dir', dataDir, ...(opts.durable ? ['--durable'] : [])]})
  const token = tokenFor(run.url)
  // 1. Every turn the previous cycle saw end: stored?
  for (const t of seen) {
    const s = await api(run.url, token, `/api/v1/sessions/${t.key}`)
    const messages = s.body?.messages ?? []
    const stored = messages.some((m) => m.role === 'user' && m.content === t.content)
    checked++
    if (!stored) lost.push({...t, status: s.status, storedTurns: messages.length})
  }
  seen = []
  // 2. Load, then kill -9 at a random moment.
  const abort = new AbortController()
  const loops = Array.from({length: clients}, async () => {
    while (!abort.signal.aborted) {
      const created = await api(run.url, token, '/api/v1/sessions', {method: 'POST', body: {thread: `t${++counter}`}, signal: abort.signal})
      const key = created.body?.sessionKey
      if (!key) throw new Error(`session: HTTP ${created.status}`)
      for (let i = 0; i < 2; i++) {
        const content = `turn ${++counter}`
        const end = await turn(run.url, token, key, content, abort.signal)
        if (end.event === 'done') seen.push({key, content, doneAt: end.at, cycle})
      }
    }
  })
  const settled = Promise.allSettled(loops)
  // Once turns are flowing (a few have ended), at a random moment within the next 0.5 s.
  const flowing = performance.now()
  while (seen.length < clients && performance.now() - flowing < 30_000) await new Promise((r) => setTimeout(r, 10))
  await new Promise((r) => setTimeout(r, Math.random() * 500))
  const killAt = performance.now()
  run.child.kill('SIGKILL')
  await new Promise((r) => run.child.once('exit', r))
  abort.abort()
  await settled
  for (const t of seen) t.gapMs = killAt - t.doneAt
  process.stderr.write(`cycle ${cycle + 1}/${cycles}: ${seen.length} turns done before the kill\n`)
}
{
  // The last cycle's turns.
  const run = await startLobuRun({cwd, env, args: ['--no-apply', '--data-dir', dataDir]})
  const token = tokenFor(run.url)
  for (const t of seen) {
    const s = await api(run.url, token, `/api/v1/sessions/${t.key}`)
    checked++
    if (!(s.body?.messages ?? []).some((m) => m.role === 'user' && m.content === t.content)) lost.push(t)
  }
  await run.stop()
}

for (const b of burners) b.kill('SIGKILL')
await fake.stop()
box.cleanup()

const gaps = lost.map((t) => t.gapMs).sort((a, b) => a - b)
console.log(`kill -9 window (${opts.durable ? '--durable' : 'default'}; ${cycles} kills, ${clients} clients, ${load} busy processes)`)
console.log(`  turns whose done the client saw: ${checked}; lost after the kill: ${lost.length}`)
if (lost.length > 0) console.log(`  done→kill gap of the lost turns (ms): ${gaps.map((g) => g.toFixed(0)).join(', ')}; largest ${gaps.at(-1).toFixed(0)} ms`)
if (process.env.KILL_WINDOW_DEBUG) for (const t of lost) console.log(JSON.stringify(t))
process.exit(0)

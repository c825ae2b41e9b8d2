// Benchmark: `lobu apply` of a project with 100 agents, whole command (built CLI).
//   first apply (creates 100 agents + the key secret)   reported, no target
//   no-op apply (plan has zero changes)                   median and p90, target ≤ 1 s
// For reference (what the no-op apply is made of), measured in the same loop:
//   node -e 0, lobu --version (CLI start-up), lobu validate (start-up + reading the 100 agents),
//   and POST /api/v1/apply/plan of the same desired state from this process (the gateway's part).
// A temp project (100 agents, each with its own dir and IDENTITY.md and one provider with
// key = "$OPENAI_API_KEY") is served by `lobu run --no-apply` on a random port with an isolated
// HOME / LOBU_CONFIG_DIR; `lobu apply -c local --yes` runs against it. BENCH_RUNS (default 15)
// no-op applies. Run `npm run build` first.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {bin, bounded, fmt, line, machineLine, median, percentile, root, sandbox, startLobuRun} from './support/harness.mjs'

const runs = Math.max(10, Number(process.env.BENCH_RUNS ?? 15))
const AGENTS = 100

if (!existsSync(path.join(root, 'dist', 'commands'))) {
  console.error('dist/ is missing: run `npm run build` first')
  process.exit(1)
}

const machine = machineLine()
const box = sandbox('lobu-bench-apply-')
let gateway
const cleanup = async () => {
  await gateway?.stop()
  box.cleanup()
}
const done = bounded(5 * 60_000, 'apply benchmark', cleanup)

function writeProject(dir) {
  const ids = Array.from({length: AGENTS}, (_, i) => `agent-${String(i + 1).padStart(3, '0')}`)
  const toml = ['[project]', 'id = "bench-apply-a1b2c3"', '']
  for (const id of ids) {
    const agentDir = path.join(dir, 'agents', id)
    mkdirSync(agentDir, {recursive: true})
    writeFileSync(path.join(agentDir, 'IDENTITY.md'), `# ${id}\n\nYou are ${id}, a benchmark agent. Answer briefly and politely.\n`)
    toml.push(
      `[agents.${id}]`,
      `name = "Agent ${id.slice(6)}"`,
      `description = "Benchmark agent ${id}"`,
      `dir = "./agents/${id}"`,
      '',
      `[[agents.${id}.providers]]`,
      'id = "openai"',
      'model = "gpt-4o-mini"',
      'key = "$OPENAI_API_KEY"',
      '',
    )
  }
  writeFileSync(path.join(dir, 'lobu.toml'), toml.join('\n'))
}

function time(args, cwd, env) {
  const start = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, {cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60_000})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`)
  return {ms, stdout: r.stdout, stderr: r.stderr}
}

const APPLY = [bin, 'apply', '-c', 'local', '--yes']
const REFERENCE = {
  'node -e 0': ['-e', '0'],
  'lobu --version': [bin, '--version'],
  'lobu validate': [bin, 'validate'],
}

/** The gateway's share: POST the plan of the same desired state, as the CLI does, from here. */
async function timePlans(project, env, url, n) {
  const created = time([bin, 'token', 'create', '-c', 'local', '--name', 'bench-apply', '--json'], project, env)
  const {token} = JSON.parse(created.stdout)
  const {loadProject} = await import(pathToFileURL(path.join(root, 'dist/lib/config/index.js')).href)
  const {buildDesiredState, PLAN_PATH} = await import(pathToFileURL(path.join(root, 'dist/lib/apply/index.js')).href)
  const desired = await buildDesiredState(await loadProject({cwd: project}), env)
  const body = JSON.stringify({...desired, prune: false})
  const samples = []
  for (let i = 0; i < n + 1; i++) {
    const start = performance.now()
    const res = await fetch(url + PLAN_PATH, {method: 'POST', headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'}, body})
    const plan = await res.json()
    const {create, update, delete: del} = plan.summary ?? {}
    if (res.status !== 200 || create || update || del) throw new Error(`plan: ${res.status} ${JSON.stringify(plan).slice(0, 300)}`)
    if (i > 0) samples.push(performance.now() - start) // the first one opens the connection
  }
  return samples
}

try {
  const project = box.mkdir('project')
  writeProject(project)
  gateway = await startLobuRun({cwd: project, env: box.env(), args: ['--no-apply']})
  const env = box.env({OPENAI_API_KEY: 'sk-bench-apply-0000'})

  const first = time(APPLY, project, env)
  if (!(Number(/Applied: (\d+) created/.exec(first.stdout)?.[1]) >= AGENTS)) throw new Error(`the first apply did not create the agents:\n${first.stdout}\n${first.stderr}`)

  // warm-up, then interleave so machine noise hits every case alike
  for (const args of Object.values(REFERENCE)) time(args, project, env)
  const samples = []
  const reference = Object.fromEntries(Object.keys(REFERENCE).map((k) => [k, []]))
  let changed = 0
  for (let i = 0; i < runs; i++) {
    for (const [k, args] of Object.entries(REFERENCE)) reference[k].push(time(args, project, env).ms)
    const r = time(APPLY, project, env)
    if (!/No changes/.test(r.stderr)) changed++
    samples.push(r.ms)
  }
  if (changed) console.log(`warning: ${changed} of ${runs} "no-op" applies planned changes (the numbers below are not of no-op applies)`)
  const plans = await timePlans(project, env, gateway.url, runs)

  line(`first apply (create ${AGENTS} agents)`, `${fmt(first.ms, 0)} ms`, '(none, reported)')
  line(`no-op apply, ${AGENTS} agents`, `median ${fmt(median(samples), 0)} ms  p90 ${fmt(percentile(samples, 90), 0)} ms`, '≤ 1000 ms')
  console.log(`(${runs} runs; samples ${samples.map((x) => x.toFixed(0)).join(' ')} ms)`)
  console.log('reference, same loop (medians):')
  for (const [k, xs] of Object.entries(reference)) console.log(`  ${k.padEnd(44)} ${fmt(median(xs), 0)} ms`)
  console.log(`  ${'gateway alone: POST /api/v1/apply/plan'.padEnd(44)} ${fmt(median(plans), 0)} ms  (p90 ${fmt(percentile(plans, 90), 0)} ms)`)
  console.log(machine)
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  process.exitCode = 1
} finally {
  await cleanup()
  done()
}

// Benchmark: tools in the agent loop, in-process (run through bench/run.js, which loads tsx).
//   a. first connect of a stdio MCP server (spawn through the reaper, MCP initialize, tools/list):
//      the first one in the process, then further ones (another user each: one connection per
//      (org, agent, user, server)); reported, no target
//   b. a tool round's gateway overhead with a connected stdio server: from the model's tool call
//      received (its stream ended) to the results sent back (the next provider request starts),
//      minus the tool's own time (the MCP call from request to answer), p50 ≤ 5 ms; the raw round
//      time (tool included) is shown beside it
// The model is a scripted stream function injected into runAgentTurn (no HTTP provider), so what
// is measured is the turn loop, the policy, the event sink and the MCP client. The probe server
// is test/support/mcp/probe-server.mjs (read-only `pid` tool: nothing is asked). The store is not
// on this path (grants are read once per turn, before the first round): a stub answers that read.
// Knobs: BENCH_TOOL_TURNS (40), BENCH_TOOL_ROUNDS (10 tool rounds per turn), BENCH_CONNECTS (5).
import path from 'node:path'

import {fmt, line, machineLine, median, percentile, root} from './support/harness.mjs'

const TURNS = Number(process.env.BENCH_TOOL_TURNS ?? 40)
const ROUNDS = Number(process.env.BENCH_TOOL_ROUNDS ?? 10)
const CONNECTS = Number(process.env.BENCH_CONNECTS ?? 5)
const PROBE = path.join(root, 'test', 'support', 'mcp', 'probe-server.mjs')

const {ToolService} = await import(path.join(root, 'src/lib/gateway/tools/service.ts'))
const {runAgentTurn} = await import(path.join(root, 'src/lib/gateway/sessions/turn.ts'))

console.log(machineLine())
const store = {kind: 'pglite', sql: {query: async () => []}, secrets: {get: async () => undefined}}
const services = {store, installKey: Buffer.alloc(32), log: () => {}, env: {PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8'}, project: {id: 'bench', root}}
const tools = new ToolService(services)
const agent = {
  orgId: 'org_bench',
  agentId: 'bench',
  spec: {
    name: 'bench',
    files: {skills: []},
    providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: 'http://127.0.0.1:9/v1', key: {kind: 'env', name: 'BENCH_KEY'}}],
    mcp: {probe: {type: 'stdio', command: process.execPath, args: [PROBE]}},
    network: {allowed: [], denied: []},
    tools: {allowed: [], denied: [], preApproved: []},
  },
}

try {
  // a. first connects
  const connects = []
  for (let i = 0; i < CONNECTS; i++) {
    const t0 = performance.now()
    const [state] = await tools.pool.servers(agent, `user-${i}`)
    connects.push(performance.now() - t0)
    if (state.state !== 'connected') throw new Error(`probe server failed: ${state.error}`)
  }
  line('a. stdio server first connect (first in process)', `${fmt(connects[0])} ms`, 'reported')
  line(`a. stdio server connect, ${CONNECTS - 1} more users (median)`, `${fmt(median(connects.slice(1)))} ms`, 'reported')

  // b. round overhead
  const env = {store, env: {BENCH_KEY: 'k', LOBU_MAX_TOOL_ROUNDS: String(ROUNDS + 1)}, installKey: Buffer.alloc(32), systemProviders: [], url: 'http://127.0.0.1'}
  const overheads = []
  const raws = []
  let roundEnd = 0
  const stream = async function* (input) {
    if (roundEnd) raws.push(performance.now() - roundEnd)
    const rounds = input.messages.filter((m) => m.role === 'assistant' && m.toolCalls).length
    if (rounds < ROUNDS) {
      yield [{type: 'tool_call', callId: `call_${rounds}`, name: 'probe__pid', arguments: '{}'}]
      roundEnd = performance.now()
      yield [{type: 'done', finishReason: 'tool_calls', usage: {inputTokens: 1, outputTokens: 1}}]
    } else {
      roundEnd = 0
      yield [{type: 'delta', text: 'done'}, {type: 'done', finishReason: 'stop', usage: {inputTokens: 1, outputTokens: 1}}]
    }
  }
  const events = []
  const sink = {
    turn: () => {},
    delta: () => {},
    toolCall: (c) => void events.push(JSON.stringify(c)),
    toolResult: (r) => void events.push(JSON.stringify(r)),
    roundOverhead: (ms) => void overheads.push(ms),
  }
  for (let t = 0; t < TURNS; t++) {
    const outcome = await runAgentTurn(
      {...env, stream},
      {agent, userId: 'user-0', history: [], prompt: 'go', signal: new AbortController().signal, tools: () => tools.forTurn({orgId: agent.orgId, userId: 'user-0', agent})},
      sink,
    )
    if (outcome.kind !== 'done') throw new Error(`turn failed: ${JSON.stringify(outcome.error)}`)
  }
  const steady = overheads.slice(ROUNDS) // the first turn warms V8 up
  line(`b. tool round gateway overhead p50 (${steady.length} rounds)`, `${fmt(percentile(steady, 50), 2)} ms (p99 ${fmt(percentile(steady, 99), 2)} ms)`, '≤ 5 ms p50')
  line('b. tool round, tool included, p50', `${fmt(percentile(raws.slice(ROUNDS), 50), 2)} ms (p99 ${fmt(percentile(raws.slice(ROUNDS), 99), 2)} ms)`, 'reported')
} finally {
  await tools.close()
}

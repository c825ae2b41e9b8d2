/**
 * The tool loop of runAgentTurn with an injected model stream and injected tools: calls of one
 * round run at most 4 at once with results in call order, every round's messages are kept, and
 * the round limit ends the turn with TOOL_LOOP_LIMIT and the text so far.
 */
import {describe, expect, it} from 'vitest'

import type {ProviderEvent, ToolCall, TurnInput} from '../../../../src/lib/gateway/providers/types.js'
import {runAgentTurn, type TurnSink} from '../../../../src/lib/gateway/sessions/turn.js'
import type {AgentRow} from '../../../../src/lib/gateway/store/types.js'
import type {TurnTools} from '../../../../src/lib/gateway/tools/service.js'

const agent = {
  orgId: 'o',
  agentId: 'a',
  spec: {name: 'a', files: {skills: []}, providers: [{id: 'openai', model: 'gpt-4o-mini', baseUrl: 'http://127.0.0.1:9/v1', key: {kind: 'env', name: 'K'}}], mcp: {}, network: {allowed: [], denied: []}, tools: {allowed: [], denied: [], preApproved: []}},
} as unknown as AgentRow
const env = {store: {} as never, env: {K: 'k', LOBU_MAX_TOOL_ROUNDS: '3'}, installKey: Buffer.alloc(32), systemProviders: [], url: 'http://x', grants: async () => undefined}
const done = (finishReason: string): ProviderEvent => ({type: 'done', finishReason, usage: {inputTokens: 1, outputTokens: 1}})

function sink(): TurnSink & {events: string[]} {
  const events: string[] = []
  return {
    events,
    turn: () => {},
    delta: (t) => void events.push(`delta ${t}`),
    toolCall: (c) => void events.push(`call ${c.callId}`),
    toolResult: (r) => void events.push(`result ${r.callId} ${r.ok}`),
  }
}

function tools(delays: Record<string, number>, seen: {max: number; now: number}): TurnTools {
  return {
    specs: [{name: 's__t', parameters: {type: 'object'}}],
    unavailable: [],
    lookup: (name) => (name === 's__t' ? {server: 's', tool: 't'} : undefined),
    run: async (call: ToolCall) => {
      seen.now++
      seen.max = Math.max(seen.max, seen.now)
      await new Promise((r) => setTimeout(r, delays[call.callId] ?? 1))
      seen.now--
      return {ok: true, content: `out ${call.callId}`, summary: `out ${call.callId}`, toolMs: 0}
    },
  }
}

describe('the tool loop', () => {
  it('runs a round\'s calls at most 4 at once, results in call order, then answers', async () => {
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']
    const seen = {max: 0, now: 0}
    const inputs: TurnInput[] = []
    const stream = async function* (input: TurnInput) {
      inputs.push(input)
      if (inputs.length === 1) yield [{type: 'delta', text: 'working '} as ProviderEvent, ...ids.map((id) => ({type: 'tool_call', callId: id, name: 's__t', arguments: '{}'}) as ProviderEvent), done('tool_calls')]
      else yield [{type: 'delta', text: 'answer'} as ProviderEvent, done('stop')]
    }
    const s = sink()
    // c1 is the slowest: its result still comes first.
    const outcome = await runAgentTurn({...env, stream}, {agent, userId: 'u', history: [], prompt: 'go', signal: new AbortController().signal, tools: async () => tools({c1: 40}, seen)}, s)
    expect(outcome.kind).toBe('done')
    expect(seen.max).toBe(4)
    expect(inputs[0]!.tools?.map((t) => t.name)).toEqual(['s__t'])
    const second = inputs[1]!.messages
    expect(second.filter((m) => m.role === 'tool').map((m) => m.role === 'tool' && m.callId)).toEqual(ids)
    expect(outcome.messages.map((m) => m.role)).toEqual(['assistant', ...ids.map(() => 'tool'), 'assistant'])
    expect(outcome.text).toBe('working answer')
    expect(s.events.filter((e) => e.startsWith('call'))).toHaveLength(6)
  })

  it('ends with TOOL_LOOP_LIMIT after LOBU_MAX_TOOL_ROUNDS rounds, keeping the text so far', async () => {
    let n = 0
    const stream = async function* () {
      n++
      yield [{type: 'delta', text: `r${n} `} as ProviderEvent, {type: 'tool_call', callId: `c${n}`, name: 's__t', arguments: '{}'} as ProviderEvent, done('tool_calls')]
    }
    const outcome = await runAgentTurn({...env, stream}, {agent, userId: 'u', history: [], prompt: 'go', signal: new AbortController().signal, tools: async () => tools({}, {max: 0, now: 0})}, sink())
    expect(outcome.kind).toBe('error')
    expect(outcome.kind === 'error' && outcome.error.code).toBe('TOOL_LOOP_LIMIT')
    expect(n).toBe(3)
    expect(outcome.text).toBe('r1 r2 r3 ')
    expect(outcome.messages.filter((m) => m.role === 'tool')).toHaveLength(3)
  })

  it('without tools, tool calls of the model are not run and the turn ends', async () => {
    const stream = async function* () {
      yield [{type: 'tool_call', callId: 'c', name: 'x', arguments: '{}'} as ProviderEvent, done('tool_calls')]
    }
    const s = sink()
    const outcome = await runAgentTurn({...env, stream}, {agent, userId: 'u', history: [], prompt: 'go', signal: new AbortController().signal}, s)
    expect(outcome.kind).toBe('done')
    expect(s.events).toEqual([])
  })
})

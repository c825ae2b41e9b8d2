import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {PassThrough, Writable} from 'node:stream'

import stringWidth from 'string-width'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {runChat, type ChatOptions} from '../../../src/lib/chat/index.js'
import type {Renderer} from '../../../src/lib/chat/render.js'
import {type ChatEvent, ChatInterrupted} from '../../../src/lib/chat/stream.js'
import {
  type ApprovalRequest,
  type AskApproval,
  type Decision,
  argumentLines,
  callLine,
  compactArguments,
  formatDuration,
  resultText,
  terminalAsk,
  toolActivity,
} from '../../../src/lib/chat/tools.js'
import {neutralizeControls} from '../../../src/lib/cli/terminal.js'
import {cutToWidth} from '../../../src/lib/cli/width.js'
import {ApiClient} from '../../../src/lib/client/index.js'
import type {ResolvedContext} from '../../../src/lib/context/index.js'
import {oneToolTurn, startToolsLoopback, type ToolsLoopback} from '../../support/tools-loopback.js'

const ESC = '\u001b'
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/

const sink = () => {
  let text = ''
  return {
    write: (t: string) => void (text += t),
    get text() {
      return text
    },
  }
}

describe('neutralizeControls', () => {
  it('makes escapes visible: ESC, CSI, OSC 52, C1, DEL, bidi overrides; one line unless multiline', () => {
    const evil = `a${ESC}[31mred${ESC}]52;c;ZXZpbA==\u0007\u009b2J\u007f\u202etxt.exe\r\nnext\tcol`
    const flat = neutralizeControls(evil)
    expect(flat).not.toMatch(RAW_CONTROL)
    expect(flat).not.toContain('\u202e')
    expect(flat).toBe('a␛[31mred␛]52;c;ZXZpbA==␇\\x9b2J␡\\u202etxt.exe next col')
    const multi = neutralizeControls(evil, {multiline: true})
    expect(multi).toContain('\nnext\tcol')
    expect(multi).toContain('␍') // a bare carriage return could overwrite the line
    expect(multi.replace(/[\n\t]/g, '')).not.toMatch(RAW_CONTROL)
    expect(neutralizeControls('plain ünïcödé 日本 ✓')).toBe('plain ünïcödé 日本 ✓')
  })
})

describe('cutToWidth', () => {
  it('cuts by display columns, never inside a grapheme, with an ellipsis', () => {
    expect(cutToWidth('abcdef', 6)).toBe('abcdef')
    expect(cutToWidth('abcdef', 4)).toBe('abc…')
    const wide = cutToWidth('日本語のテキスト', 7)
    expect(stringWidth(wide)).toBeLessThanOrEqual(7)
    expect(wide).toBe('日本語…')
    expect(cutToWidth('👍🏽👍🏽👍🏽', 4)).toBe('👍🏽…')
    expect(cutToWidth('x', 0)).toBe('')
  })
})

describe('tool line parts', () => {
  it('the call: server.tool and compact arguments, cut to leave room for the result', () => {
    const data = {callId: 'c', name: 'files__read_text_file', server: 'files', tool: 'read_text_file', arguments: '{ "path" : "a.txt" }'}
    expect(callLine(data, 80)).toBe('⚙ files.read_text_file {"path":"a.txt"}')
    expect(callLine({...data, server: undefined, tool: undefined}, 80)).toBe('⚙ files__read_text_file {"path":"a.txt"}')
    const long = callLine({...data, arguments: JSON.stringify({path: 'x'.repeat(300)})}, 60)
    expect(stringWidth(long)).toBeLessThanOrEqual(60 - 24)
    expect(long.endsWith('…')).toBe(true)
    expect(compactArguments('not json {')).toBe('not json {')
    expect(compactArguments({a: 1})).toBe('{"a":1}')
  })

  it('the result: ✓ duration, ✗ denied, – skipped (dry run), ✗ first line of the error', () => {
    expect(resultText({ok: true, durationMs: 12})).toBe('✓ 12 ms')
    expect(resultText({ok: true, durationMs: 1530})).toBe('✓ 1.5 s')
    expect(resultText({ok: false, skipped: 'denied', summary: 'denied'})).toBe('✗ denied')
    expect(resultText({ok: false, skipped: 'dry_run'})).toBe('– skipped (dry run)')
    expect(resultText({ok: false, summary: `ENOENT: no such file${ESC}[2J\nstack line`})).toBe('✗ ENOENT: no such file␛[2J')
    expect(resultText({ok: false})).toBe('✗ failed')
    expect(formatDuration(undefined)).toBe('')
  })

  it('the arguments of a question: pretty JSON, at most 12 lines, neutralised', () => {
    const lines = argumentLines(JSON.stringify({path: 'a.txt', content: `x${ESC}]8;;http://evil${ESC}\\`}), 80)
    expect(lines).toEqual(['    {', '      "path": "a.txt",', expect.stringContaining('"content": "x'), '    }'])
    expect(lines.join('')).not.toMatch(RAW_CONTROL)
    const many = argumentLines(JSON.stringify(Object.fromEntries(Array.from({length: 30}, (_, i) => [`k${i}`, i]))), 80)
    expect(many).toHaveLength(12)
    expect(many.at(-1)).toBe('    … (21 more lines)')
  })
})

/** A renderer that records what it was asked to do. */
function fakeRenderer() {
  const calls: string[] = []
  const renderer: Renderer = {
    event: (ev) => void calls.push(`event:${ev.event}`),
    pause: () => void calls.push('pause'),
    note: () => {},
    finish: () => {},
  }
  return {renderer, calls}
}

const ev = (event: string, data: Record<string, unknown>): ChatEvent => ({event, data: {messageId: 'm', ...data}})

describe('toolActivity: the lines of a turn', () => {
  const base = (extra: Partial<Parameters<typeof toolActivity>[0]> = {}) => {
    const err = sink()
    const {renderer, calls} = fakeRenderer()
    const decided: Array<[string, Decision]> = []
    const activity = toolActivity({
      renderer,
      json: false,
      stderr: err,
      mode: 'deny',
      agentId: 'support',
      signal: new AbortController().signal,
      decide: async (callId, decision) => void decided.push([callId, decision]),
      ...extra,
    })
    return {activity, err, calls, decided}
  }

  it('a call and its result share one line; other events end it first', async () => {
    const {activity, err, calls} = base({width: 80})
    await activity.event(ev('tool_call', {callId: 'a', server: 'files', tool: 'read_text_file', arguments: '{"path":"a.txt"}'}))
    expect(calls).toEqual(['pause'])
    await activity.event(ev('tool_result', {callId: 'a', ok: true, durationMs: 12}))
    await activity.event(ev('tool_call', {callId: 'b', server: 'files', tool: 'list', arguments: '{}'}))
    await activity.event(ev('delta', {text: 'hi'}))
    expect(err.text).toBe('⚙ files.read_text_file {"path":"a.txt"} ✓ 12 ms\n⚙ files.list {}\n')
    expect(calls.at(-1)).toBe('event:delta')
  })

  it('parallel calls: a result that does not follow its own call gets its own line', async () => {
    const {activity, err} = base({width: 80})
    await activity.event(ev('tool_call', {callId: 'a', server: 's', tool: 'one', arguments: '{}'}))
    await activity.event(ev('tool_call', {callId: 'b', server: 's', tool: 'two', arguments: '{}'}))
    await activity.event(ev('tool_result', {callId: 'a', ok: true, durationMs: 3}))
    await activity.event(ev('tool_result', {callId: 'b', ok: false, summary: 'boom'}))
    activity.finish()
    expect(err.text).toBe('⚙ s.one {}\n⚙ s.two {}\n⚙ s.one ✓ 3 ms\n⚙ s.two ✗ boom\n')
  })

  it('names, arguments and summaries with escapes reach stderr neutralised, every line within the width', async () => {
    const {activity, err} = base({width: 70, dim: (t) => t})
    const server = `evil${ESC}[2J`
    await activity.event(ev('tool_call', {callId: 'a', server, tool: `t${ESC}]52;c;AAAA\u0007`, arguments: JSON.stringify({p: '\u009b31m' + 'z'.repeat(200)})}))
    await activity.event(ev('tool_result', {callId: 'a', ok: false, summary: `${ESC}[31mfailed${ESC}[0m: ${'long '.repeat(40)}`}))
    await activity.event(ev('approval_required', {callId: 'b', server, tool: `w${ESC}[1A`, arguments: '{}', expiresAt: new Date(Date.now() + 60_000).toISOString()}))
    expect(err.text).not.toMatch(RAW_CONTROL)
    const callLineOut = err.text.split('\n')[0]!
    expect(callLineOut.startsWith('⚙ evil␛[2J.t␛]52;c;AAAA␇ {"p":"\\x9b31mzz')).toBe(true)
    expect(stringWidth(callLineOut)).toBeLessThanOrEqual(70)
    expect(callLineOut).toContain(' ✗ ␛[31mfailed')
  })

  it('a result that arrives after a stream reconnect (no call seen) still gets a line', async () => {
    const {activity, err} = base()
    await activity.event(ev('tool_result', {callId: 'zz', ok: false, skipped: 'dry_run'}))
    expect(err.text).toBe('⚙ tool – skipped (dry run)\n')
  })
})

describe('toolActivity: approvals in each mode', () => {
  const approval = (callId = 'c1', extra: Record<string, unknown> = {}) =>
    ev('approval_required', {callId, server: 'files', tool: 'write_file', arguments: '{"path":"a.txt"}', expiresAt: new Date(Date.now() + 600_000).toISOString(), ...extra})

  const make = (mode: 'prompt' | 'auto' | 'deny', extra: Partial<Parameters<typeof toolActivity>[0]> = {}) => {
    const err = sink()
    const {renderer, calls} = fakeRenderer()
    const decided: Array<[string, Decision]> = []
    const asked: ApprovalRequest[] = []
    const activity = toolActivity({
      renderer,
      json: false,
      stderr: err,
      mode,
      agentId: 'support',
      signal: new AbortController().signal,
      ask: async (req) => {
        asked.push(req)
        return '24h'
      },
      decide: async (callId, decision) => void decided.push([callId, decision]),
      ...extra,
    })
    return {activity, err, calls, decided, asked}
  }

  it('prompt: asks with server, tool and arguments shown, then sends the answer', async () => {
    const {activity, err, decided, asked, calls} = make('prompt')
    await activity.event(approval())
    expect(asked).toEqual([expect.objectContaining({callId: 'c1', server: 'files', tool: 'write_file', arguments: '{"path":"a.txt"}'})])
    expect(decided).toEqual([['c1', '24h']])
    expect(calls[0]).toBe('pause') // the spinner and the open stdout line settle before the question
    expect(err.text).toContain('files.write_file needs your approval (MCP server files, tool write_file), arguments:')
    expect(err.text).toContain('      "path": "a.txt"')
  })

  it('auto (--auto-approve): once, without asking', async () => {
    const {activity, decided, asked, err} = make('auto')
    await activity.event(approval())
    await activity.event(approval('c2'))
    expect(decided).toEqual([
      ['c1', 'once'],
      ['c2', 'once'],
    ])
    expect(asked).toEqual([])
    expect(err.text).toBe('')
  })

  it('deny (no terminal): deny, and stderr says how to allow such calls, once per tool', async () => {
    const {activity, decided, asked, err} = make('deny')
    await activity.event(approval())
    await activity.event(approval('c2'))
    expect(decided).toEqual([
      ['c1', 'deny'],
      ['c2', 'deny'],
    ])
    expect(asked).toEqual([])
    expect(err.text).toBe(
      'Denied files.write_file: it needs approval and there is no terminal to ask on.\n' +
        'Hint: allow such calls with --auto-approve (each call once), or pre-approve the tool in lobu.toml: [agents.support.tools] pre_approved = ["/mcp/files/tools/write_file"]\n',
    )
  })

  it('--json: every event passes through; a prompt mode still never asks (deny), auto approves once', async () => {
    const j = make('prompt', {json: true})
    await j.activity.event(ev('tool_call', {callId: 'c1', server: 'files', tool: 'write_file', arguments: '{}'}))
    await j.activity.event(approval())
    await j.activity.event(ev('tool_result', {callId: 'c1', ok: false, skipped: 'denied'}))
    expect(j.calls).toEqual(['event:tool_call', 'event:approval_required', 'event:tool_result'])
    expect(j.asked).toEqual([])
    expect(j.decided).toEqual([['c1', 'deny']])
    expect(j.err.text).toContain('lobu chat --json never asks')
    const a = make('auto', {json: true})
    await a.activity.event(approval())
    expect(a.decided).toEqual([['c1', 'once']])
  })

  it('an approval that expires while asking closes the question and is denied', async () => {
    const hang: AskApproval = (_req, signal) =>
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), {name: 'AbortPromptError'}))))
    const {activity, decided, err} = make('prompt', {ask: hang})
    await activity.event(approval('c1', {expiresAt: new Date(Date.now() + 50).toISOString()}))
    expect(decided).toEqual([['c1', 'deny']])
    expect(err.text).toContain('No answer before the approval expired')
  })

  it('Ctrl-C in the question interrupts the chat; a decision already taken elsewhere is a note', async () => {
    const exit: AskApproval = async () => {
      throw Object.assign(new Error('User force closed the prompt'), {name: 'ExitPromptError'})
    }
    await expect(make('prompt', {ask: exit}).activity.event(approval())).rejects.toBeInstanceOf(ChatInterrupted)

    const conflict = make('auto', {
      decide: async () => {
        throw Object.assign(new Error('already decided'), {status: 409, code: 'ALREADY_DECIDED'})
      },
    })
    await conflict.activity.event(approval())
    expect(conflict.err.text).toContain('was already decided')

    const broken = make('auto', {
      decide: async () => {
        throw Object.assign(new Error('cannot reach the gateway'), {code: 'GATEWAY_UNREACHABLE'})
      },
    })
    await expect(broken.activity.event(approval())).rejects.toMatchObject({code: 'APPROVAL_FAILED', kind: 'failed'})
  })
})

describe('terminalAsk: the @inquirer select', () => {
  const drive = async (keys: string[]) => {
    const input = new PassThrough()
    let shown = ''
    const output = new Writable({
      write(chunk, _enc, done) {
        shown += chunk.toString()
        done()
      },
    })
    const ask = terminalAsk({input, output})
    const answer = ask({callId: 'c', server: 'files', tool: `write${ESC}[2J`, arguments: '{}'}, new AbortController().signal)
    await new Promise((r) => setTimeout(r, 50))
    for (const key of keys) {
      input.write(key)
      await new Promise((r) => setTimeout(r, 10))
    }
    return {answer: await answer, shown}
  }

  it('offers Allow once / 1 hour / 24 hours / Always / Deny; Enter takes the highlighted one', async () => {
    const first = await drive(['\r'])
    expect(first.answer).toBe('once')
    for (const choice of ['Allow once', 'Allow for 1 hour', 'Allow for 24 hours', 'Always allow', 'Deny']) expect(first.shown).toContain(choice)
    expect(first.shown).toContain('Allow files.write␛[2J?')
    expect((await drive(['\u001b[B', '\r'])).answer).toBe('1h')
    expect((await drive(['\u001b[A', '\r'])).answer).toBe('deny')
  })
})

describe('runChat with tools, against a loopback gateway', () => {
  let gw: ToolsLoopback
  let configDir: string
  const ctx: ResolvedContext = {name: 'lb', url: '', origin: '', source: 'flag', builtin: false}

  beforeAll(async () => {
    gw = await startToolsLoopback()
    configDir = await mkdtemp(path.join(tmpdir(), 'lobu-chat-tools-'))
    ctx.url = gw.url
    ctx.origin = gw.url
  })
  afterAll(async () => {
    await gw?.close()
    await rm(configDir, {recursive: true, force: true})
  })
  beforeEach(() => {
    gw.decisions.length = 0
    gw.seen.length = 0
  })

  const chat = async (extra: Partial<ChatOptions> & {json?: boolean} = {}) => {
    const out = sink()
    const err = sink()
    const {json, ...rest} = extra
    const result = await runChat({
      prompt: 'write a.txt',
      agent: 'support',
      timeoutSec: 30,
      boot: false,
      ctx,
      client: async () => new ApiClient({baseUrl: gw.url, token: gw.token}),
      signal: new AbortController().signal,
      version: 'test',
      env: {LOBU_CONFIG_DIR: configDir},
      output: {json: Boolean(json), stdout: out, stderr: err, width: 80},
      ...rest,
    })
    return {result, out: out.text, err: err.text}
  }

  it('a terminal: the question is asked, its answer posted to the approvals route, the result shown', async () => {
    gw.turns.push(oneToolTurn({approval: true}))
    const asked: ApprovalRequest[] = []
    const r = await chat({canPrompt: true, ask: async (req) => (asked.push(req), 'always')})
    expect(asked.map((a) => `${a.server}.${a.tool} ${a.arguments}`)).toEqual(['files.write_file {"path":"a.txt","content":"hi"}'])
    expect(gw.decisions).toEqual([{sessionKey: 'ses_1', callId: 'call_1', decision: 'always'}])
    expect(r.out).toBe('done\n')
    expect(r.err).toContain('⚙ files.write_file {"path":"a.txt","content":"hi"}\n')
    expect(r.err).toMatch(/⚙ files\.write_file ✓ 12 ms\n$/)
  })

  it('no terminal: the call is denied and stderr says how to allow it', async () => {
    gw.turns.push(oneToolTurn({approval: true}))
    let asked = 0
    const r = await chat({canPrompt: false, ask: async () => (asked++, 'once')})
    expect(asked).toBe(0)
    expect(gw.decisions.map((d) => d.decision)).toEqual(['deny'])
    expect(r.err).toContain('--auto-approve')
    expect(r.err).toContain('pre_approved = ["/mcp/files/tools/write_file"]')
    expect(r.err).toContain('⚙ files.write_file ✗ denied')
    expect(r.out).toBe('done\n')
  })

  it('--auto-approve: approved once each, even on a terminal', async () => {
    gw.turns.push(oneToolTurn({approval: true}))
    let asked = 0
    const r = await chat({canPrompt: true, autoApprove: true, ask: async () => (asked++, 'deny')})
    expect(asked).toBe(0)
    expect(gw.decisions.map((d) => d.decision)).toEqual(['once'])
    expect(r.err).toBe('⚙ files.write_file {"path":"a.txt","content":"hi"} ✓ 12 ms\n')
  })

  it('a read-only call asks nothing: one line with its result', async () => {
    gw.turns.push(oneToolTurn({tool: 'read_text_file', arguments: '{"path":"a.txt"}'}))
    const r = await chat()
    expect(gw.decisions).toEqual([])
    expect(r.err).toBe('⚙ files.read_text_file {"path":"a.txt"} ✓ 12 ms\n')
  })

  it('--dry-run sends dryRun with the message; a skipped call says so', async () => {
    gw.turns.push(oneToolTurn({approval: true}))
    const r = await chat({dryRun: true})
    const post = gw.seen.find((s) => s.url.endsWith('/messages'))!
    expect(JSON.parse(post.body)).toEqual({content: 'write a.txt', dryRun: true})
    expect(r.err).toBe('⚙ files.write_file {"path":"a.txt","content":"hi"} – skipped (dry run)\n')
    gw.turns.push(oneToolTurn({}))
    await chat()
    expect(JSON.parse(gw.seen.filter((s) => s.url.endsWith('/messages')).at(-1)!.body)).toEqual({content: 'write a.txt'})
  })

  it('--json: tool_call, approval_required and tool_result pass through as JSON lines; the call is denied, never asked', async () => {
    gw.turns.push(oneToolTurn({approval: true}))
    let asked = 0
    const r = await chat({json: true, canPrompt: true, ask: async () => (asked++, 'once')})
    expect(asked).toBe(0)
    const events = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as {event: string; data: Record<string, unknown>})
    expect(events.map((e) => e.event)).toEqual(['turn', 'tool_call', 'approval_required', 'tool_result', 'delta', 'done'])
    expect(events[1]!.data).toMatchObject({callId: 'call_1', name: 'files__write_file', server: 'files', tool: 'write_file'})
    expect(events[3]!.data).toMatchObject({callId: 'call_1', skipped: 'denied'})
    expect(gw.decisions.map((d) => d.decision)).toEqual(['deny'])
    expect(r.err).toContain('--json never asks')

    gw.turns.push(oneToolTurn({approval: true}))
    await chat({json: true, autoApprove: true})
    expect(gw.decisions.map((d) => d.decision)).toEqual(['deny', 'once'])
  })

  it('the time spent on a question does not count as idle', async () => {
    gw.turns.push(oneToolTurn({approval: true}))
    const r = await chat({
      timeoutSec: 1,
      canPrompt: true,
      ask: () => new Promise<Decision>((resolve) => setTimeout(() => resolve('once'), 1_500)),
    })
    expect(r.out).toBe('done\n')
    expect(gw.decisions.map((d) => d.decision)).toEqual(['once'])
  })
})

describe('cutToWidth on large text', () => {
  it('a huge argument is cut without measuring all of it, ASCII or not', () => {
    const ascii = 'a'.repeat(5_000_000)
    expect(cutToWidth(ascii, 10)).toBe('aaaaaaaaa…')
    const wide = '日'.repeat(1_000_000)
    expect(cutToWidth(wide, 10)).toBe('日日日日…')
    // One grapheme longer than the measured head is not split.
    expect(cutToWidth('e' + '\u0301'.repeat(100), 3)).toBe('…')
  })
})

import {describe, expect, it} from 'vitest'

import {formatIssue, validateProject} from '../../../src/lib/config/index.js'
import {AGENT, check, errorLines, errorsOf, tempProject, warningsOf} from './helpers.js'

/** A file of the earlier lobu platform: keys this version does not act on yet. */
const LEGACY = [
  '[memory]', // 1
  'provider = "owletto"', // 2
  '', // 3
  '[agents.support]', // 4
  AGENT.trim(), // 5-6
  'guardrails = ["pii-scan"]', // 7
  'guardrails_disabled = ["secret-scan"]', // 8
  'preview = true', // 9
  '', // 10
  '[[agents.support.platforms]]', // 11
  'type = "slack"', // 12
  '[[agents.support.platforms]]', // 13
  'type = "telegram"', // 14
  '', // 15
  '[[agents.support.guardrails_inline]]', // 16
  'stage = "output"', // 17
  'judge = "Never mention competitors."', // 18
  '', // 19
  '[agents.support.egress]', // 20
  'extra_policy = "No PATs."', // 21
  '', // 22
  '[agents.support.worker]', // 23
  'image = "custom"', // 24
  '', // 25
  '[agents.support.network]', // 26
  'allowed = ["github.com"]', // 27
  'judge = [{ domain = ".slack.com" }]', // 28
  '', // 29
  '[agents.support.network.judges]', // 30
  'default = "Allow only reads."', // 31
  'any-name-at-all = "free-form"', // 32
].join('\n')

describe('compatibility keys', () => {
  it('are accepted, each with ONE warning "not supported yet: ignored" at its key', () => {
    const result = check(LEGACY)
    expect(errorsOf(result.issues)).toEqual([])
    expect(warningsOf(result.issues).map((i) => formatIssue(i))).toEqual([
      'lobu.toml:1:1  memory  not supported yet: ignored',
      'lobu.toml:7:1  agents.support.guardrails  not supported yet: ignored',
      'lobu.toml:8:1  agents.support.guardrails_disabled  not supported yet: ignored',
      'lobu.toml:9:1  agents.support.preview  not supported yet: ignored',
      'lobu.toml:11:1  agents.support.platforms  not supported yet: ignored',
      'lobu.toml:16:1  agents.support.guardrails_inline  not supported yet: ignored',
      'lobu.toml:20:1  agents.support.egress  not supported yet: ignored',
      'lobu.toml:23:1  agents.support.worker  not supported yet: ignored',
      'lobu.toml:28:1  agents.support.network.judge  not supported yet: ignored',
      'lobu.toml:30:1  agents.support.network.judges  not supported yet: ignored',
    ])
  })

  it('are not carried into the typed config', () => {
    const {config} = check(LEGACY)
    expect(config).toEqual({
      agents: {support: {dir: '.', name: 'Support', network: {allowed: ['github.com']}, providers: []}},
    })
  })

  it('a platforms table (not an array of tables) is accepted too', () => {
    const result = check(`[agents.support]\n${AGENT}[agents.support.platforms.slack]\ntoken = "$SLACK_TOKEN"\n`)
    expect(errorsOf(result.issues)).toEqual([])
    expect(warningsOf(result.issues)).toHaveLength(1)
  })

  it('still have their shape checked', () => {
    expect(
      errorLines(`memory = "yes"\n[agents.support]\n${AGENT}platforms = "slack"\nguardrails_disabled = [1]\nworker = []\n`),
    ).toEqual([
      'lobu.toml:1:10  memory  expected a table, got a string',
      'lobu.toml:5:13  agents.support.platforms  expected a table or an array of tables, got a string',
      'lobu.toml:6:23  agents.support.guardrails_disabled  expected an array of strings, got an array containing an integer',
      'lobu.toml:7:10  agents.support.worker  expected a table, got an array',
    ])
  })

  it('a legacy file validates (valid: true, exit 0) with its warnings', async () => {
    const root = await tempProject({'lobu.toml': LEGACY})
    const {error, report} = await validateProject({cwd: root, env: {}})
    expect(error).toBeUndefined()
    expect(report.valid).toBe(true)
    expect(report.agents).toEqual(['support'])
    expect(report.warnings).toHaveLength(10)
    expect(report.warnings.every((w) => w.severity === 'warning')).toBe(true)
  })
})

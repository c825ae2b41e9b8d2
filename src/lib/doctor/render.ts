/** The checklist for humans: one line per check, an indented fix under each warning or failure. */
import {Chalk} from 'chalk'

import type {Check, CheckStatus, DoctorReport} from './types.js'

const SYMBOL: Record<CheckStatus, string> = {ok: '✓', warn: '!', fail: '✗'}
const WORD: Record<CheckStatus, string> = {ok: 'ok', warn: 'warn', fail: 'fail'}

export function renderCheck(c: Check, opts: {color: boolean}): string {
  const chalk = new Chalk({level: opts.color ? 1 : 0})
  const paint = {ok: chalk.green, warn: chalk.yellow, fail: chalk.red}[c.status]
  const mark = opts.color ? `${paint(SYMBOL[c.status])} ` : WORD[c.status].padEnd(5)
  const indent = ' '.repeat(opts.color ? 2 : 5)
  const [first = '', ...rest] = c.message.split('\n')
  const lines = [`${mark}${first}`, ...rest.map((line) => `${indent}  ${opts.color ? chalk.dim(line) : line}`)]
  if (c.fix && c.status !== 'ok') lines.push(`${indent}${opts.color ? chalk.cyan('fix:') : 'fix:'} ${c.fix}`)
  return lines.join('\n')
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** "No problems found." / "1 check failed, 2 warnings." */
export function summaryLine(report: DoctorReport): string {
  const failed = report.checks.filter((c) => c.status === 'fail').length
  const warned = report.checks.filter((c) => c.status === 'warn').length
  if (failed === 0 && warned === 0) return `No problems found (${plural(report.checks.length, 'check')}).`
  const parts = []
  if (failed > 0) parts.push(`${plural(failed, 'check')} failed`)
  if (warned > 0) parts.push(plural(warned, 'warning'))
  return `${parts.join(', ')}.`
}

export function renderReport(report: DoctorReport, opts: {color: boolean}): string {
  return [...report.checks.map((c) => renderCheck(c, opts)), '', summaryLine(report)].join('\n') + '\n'
}

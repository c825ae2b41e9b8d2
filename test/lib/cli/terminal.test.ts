import {describe, expect, it} from 'vitest'

import {humanRenderer} from '../../../src/lib/chat/render.js'
import {neutralizeControls, terminalWidth} from '../../../src/lib/cli/terminal.js'

describe('terminalWidth', () => {
  it('is the columns of a terminal of known width only', () => {
    expect(terminalWidth({isTTY: true, columns: 120})).toBe(120)
    expect(terminalWidth({isTTY: true, columns: 0})).toBeUndefined()
    expect(terminalWidth({isTTY: true})).toBeUndefined()
    expect(terminalWidth({isTTY: true, columns: Number.NaN})).toBeUndefined()
    expect(terminalWidth({isTTY: false, columns: 80})).toBeUndefined()
    expect(terminalWidth({columns: 80})).toBeUndefined()
  })
})

describe('the human renderer with a text filter', () => {
  const sink = () => {
    const s = {text: '', write: (t: string) => void (s.text += t)}
    return s
  }

  it('applies it to every delta and ends the line after what was shown', () => {
    const out = sink()
    const r = humanRenderer({stdout: out, stderr: sink(), text: (t) => neutralizeControls(t, {multiline: true})})
    r.event({event: 'delta', data: {text: 'a \u001B]52;c;eA==\u0007'}})
    r.event({event: 'delta', data: {text: 'b\u001B'}})
    r.event({event: 'done', data: {}})
    expect(out.text).toBe('a ␛]52;c;eA==␇b␛\n')
  })

  it('writes deltas as received without one', () => {
    const out = sink()
    const r = humanRenderer({stdout: out, stderr: sink()})
    r.event({event: 'delta', data: {text: 'x\u001B[2J\n'}})
    r.finish()
    expect(out.text).toBe('x\u001B[2J\n')
  })
})

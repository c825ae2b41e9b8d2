import {describe, expect, it} from 'vitest'

import {renderRootHelp, versionLine} from '../../../src/lib/cli/fast-path.js'

const pkg = {
  name: 'lobu',
  version: '1.2.3',
  description: 'Agents, declared.',
  oclif: {bin: 'lobu', topics: {token: {description: 'Mint, list and revoke tokens'}}},
}

describe('fast path', () => {
  it('prints the version like oclif does', () => {
    expect(versionLine(pkg)).toBe(`lobu/1.2.3 ${process.platform}-${process.arch} node-${process.version}`)
  })

  it('groups commands, folds topics into one line, shows aliases and hides hidden commands', () => {
    const help = renderRootHelp(pkg, [
      {id: 'init', summary: 'Scaffold a project'},
      {id: 'run', summary: 'Run the gateway', aliases: ['dev', 'start']},
      {id: 'token:create', summary: 'Mint a token'},
      {id: 'token:list', summary: 'List tokens'},
      {id: 'secret', summary: 'Hidden', hidden: true},
      {id: 'zzz', description: 'Something new\nwith a second line'},
    ])
    const lines = help.split('\n')
    expect(lines[0]).toBe('Agents, declared.')
    expect(help).toContain('  $ lobu COMMAND [FLAGS]')
    expect(lines.indexOf('PROJECT')).toBeLessThan(lines.indexOf('RUN AND CHAT'))
    expect(help).toMatch(/^ {2}run +Run the gateway \(dev, start\)$/m)
    expect(help).toMatch(/^ {2}token +Mint, list and revoke tokens$/m)
    expect(help).not.toContain('token:create')
    expect(help).not.toContain('Hidden')
    expect(help).toMatch(/OTHER COMMANDS\n {2}zzz +Something new\n/)
    expect(help).toContain('EXAMPLES')
  })
})

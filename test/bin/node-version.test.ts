import {readFileSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {nodeVersionProblem, parseVersion} from '../../bin/node-version.js'

const engines = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {engines: {node: string}}).engines.node

describe('the Node version check of bin/run.js', () => {
  it('parses versions with or without the v', () => {
    expect(parseVersion('v20.18.1')).toEqual([20, 18, 1])
    expect(parseVersion('26.12.1')).toEqual([26, 12, 1])
    expect(parseVersion('twenty')).toBeUndefined()
  })

  it('turns away a Node older than the range, naming the version needed and the one found', () => {
    expect(nodeVersionProblem('18.20.8', '>=20.18.1')).toBe(
      'lobu needs Node.js 20.18.1 or newer, found 18.20.8. Install a current Node.js (22 or 24 LTS) and run it again.',
    )
    expect(nodeVersionProblem('20.18.0', '>=20.18.1')).toMatch(/found 20\.18\.0/)
    expect(nodeVersionProblem('20.9.9', '>=20.18.1')).toMatch(/needs Node\.js 20\.18\.1/)
  })

  it('lets the minimum and anything newer through', () => {
    for (const v of ['20.18.1', '20.18.2', '20.20.2', '21.0.0', '22.23.5', '24.22.3', '26.12.1', '100.0.0']) {
      expect(nodeVersionProblem(v, '>=20.18.1'), v).toBeUndefined()
    }
  })

  it('checks nothing against a range it does not understand, or a version that does not parse', () => {
    expect(nodeVersionProblem('18.20.8', '^20 || ^22')).toBeUndefined()
    expect(nodeVersionProblem('custom-build', '>=20.18.1')).toBeUndefined()
  })

  it('holds for package.json engines and the Node running these tests', () => {
    expect(engines).toBe('>=20.18.1')
    expect(nodeVersionProblem(process.versions.node, engines)).toBeUndefined()
  })
})

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {BIN} from './helpers.js'

/**
 * The real thing when LOBU_TEST_OLD_NODE names an older node binary (.ci/run passes Node 18);
 * otherwise this Node with process.versions.node made to read 18.20.8 before bin/run.js runs.
 */
const oldNode = process.env.LOBU_TEST_OLD_NODE
const FAKE_18 = `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"18.20.8"})`

function runOnOldNode(args: string[]) {
  const [file, pre] = oldNode ? [oldNode, []] : [process.execPath, ['--import', FAKE_18]]
  return execa(file, [...pre, BIN, ...args], {reject: false, env: {NO_COLOR: '1'}})
}

describe('lobu on a Node older than package.json engines', () => {
  for (const args of [['--version'], ['validate'], ['run', '--port', '0']]) {
    it(`lobu ${args.join(' ')}: exit 2 and one line naming the Node needed and the one found`, async () => {
      const r = await runOnOldNode(args)
      expect(r.exitCode).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(/^Error: lobu needs Node\.js 20\.18\.1 or newer, found 18\.\d+\.\d+\. Install a current Node\.js \(22 or 24 LTS\) and run it again\.$/)
    })
  }
})

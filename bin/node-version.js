// The Node.js version check that bin/run.js and bin/dev.js make before anything else loads.
// On an older Node lobu would start and then fail deep inside (Node 18: `File is not defined`
// from undici), so it stops at once with one line naming the version needed and the one found.
// Plain JavaScript and node:fs only, no syntax newer than the Node versions it turns away.
import {readFileSync} from 'node:fs'

/** [major, minor, patch] of `20.18.1` or `v20.18.1`; undefined when it is not that shape. */
export function parseVersion(text) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(text).trim())
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined
}

/**
 * The problem with running on Node `found` under the engines range `range` (package.json), as
 * one sentence, or undefined when there is none. Only the `>=X.Y.Z` form is understood (ours);
 * any other range, or a version that does not parse, lets lobu start.
 */
export function nodeVersionProblem(found, range) {
  const m = /^\s*>=\s*(\S+)\s*$/.exec(String(range))
  const needed = m ? parseVersion(m[1]) : undefined
  const have = parseVersion(found)
  if (!needed || !have) return undefined
  for (let i = 0; i < 3; i++) {
    if (have[i] > needed[i]) return undefined
    if (have[i] < needed[i]) {
      return `lobu needs Node.js ${m[1]} or newer, found ${have.join('.')}. Install a current Node.js (22 or 24 LTS) and run it again.`
    }
  }
  return undefined
}

/** Exit 2 with the problem on stderr when this Node is older than package.json's engines. */
export function exitOnUnsupportedNode() {
  let range
  try {
    range = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node
  } catch (error) {
    return // no readable engines: nothing to check against
  }
  const problem = nodeVersionProblem(process.versions.node, range)
  if (problem) {
    process.stderr.write(`Error: ${problem}\n`)
    process.exit(2)
  }
}

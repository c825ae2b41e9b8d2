/**
 * stdio MCP servers never outlive the gateway. Each one is started through a tiny Node program
 * (this file's REAPER_SOURCE, run with `node -e`) that
 *
 * - starts the server in its own process group with exactly the environment it is given
 *   (LOBU_MCP_CHILD_ENV, JSON), sharing the reaper's stdin/stdout/stderr (no copying);
 * - ends that whole group when it is told to stop (SIGTERM/SIGINT/SIGHUP: the gateway's close),
 *   and when its parent is gone (the gateway was killed: SIGKILL included), checked every 0.5 s;
 * - exits with the server's exit code when the server ends by itself.
 */

/** How often the reaper checks that the gateway is still its parent. */
export const PARENT_CHECK_MS = 500

export const REAPER_SOURCE = `
const {spawn} = require('node:child_process')
const [command, ...args] = process.argv.slice(1)
const env = JSON.parse(process.env.LOBU_MCP_CHILD_ENV || '{}')
const parent = process.ppid
let child
let ending = false
function group(signal) {
  try { process.kill(-child.pid, signal) } catch {}
}
function end() {
  if (ending) return
  ending = true
  if (!child || child.pid === undefined) process.exit(1)
  group('SIGTERM')
  setTimeout(() => { group('SIGKILL'); process.exit(1) }, 1000).unref()
}
child = spawn(command, args, {stdio: 'inherit', env, detached: true})
child.on('error', (err) => {
  process.stderr.write('cannot start ' + command + ': ' + err.message + '\\n')
  process.exit(127)
})
child.on('exit', (code, signal) => {
  group('SIGKILL')
  process.exit(code === null ? 1 : code)
})
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, end)
setInterval(() => { if (process.ppid !== parent) end() }, ${PARENT_CHECK_MS})
`

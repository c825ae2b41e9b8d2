/**
 * Inputs of the oauth commands: secrets from stdin (never from a flag value: flags leak into
 * shell history and `ps`), the agent a connection is for, and user codes typed by hand.
 */
import {AGENT_ID_PATTERN} from '../contract/ids.js'
import {UsageError} from '../core/errors.js'
import {readAllStdin, stdinHasData} from '../cli/stdin.js'
import {canPrompt} from '../cli/terminal.js'
import type {ResolvedContext} from '../context/index.js'

/** The 8-character alphabet of user codes (RFC 8628 §6.1, as the gateway draws them). */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'

/** `abcd-efgh` / `ABCDEFGH` → `ABCD-EFGH`; a usage error for anything else. */
export function normalizeUserCodeInput(input: string): string {
  const code = input.toUpperCase().replace(/[\s-]+/g, '')
  if (code.length !== 8 || [...code].some((ch) => !USER_CODE_ALPHABET.includes(ch))) {
    throw new UsageError(`"${input}" is not a login code`, {code: 'INVALID_USER_CODE', hint: 'Copy the XXXX-XXXX code that `lobu oauth login` printed on the other machine'})
  }
  return `${code.slice(0, 4)}-${code.slice(4)}`
}

/**
 * A secret from stdin: input sent on stdin (a pipe, a file, a spawning program's socket: see
 * cli/stdin.ts) is read whole (trimmed); on an interactive terminal a masked prompt asks for it;
 * anything else (no input, a terminal that cannot prompt) is a usage error naming the pipe.
 */
export async function readSecretInput(opts: {what: string; example: string}): Promise<string> {
  if (stdinHasData()) return (await readAllStdin()).trim()
  if (!process.stdin.isTTY || !canPrompt()) throw new UsageError(`pipe the ${opts.what} on stdin`, {code: 'NO_SECRET_INPUT', hint: opts.example})
  const {password} = await import('@inquirer/prompts')
  return (await password({message: `Paste the ${opts.what}:`, mask: '*'}, {output: process.stderr})).trim()
}

/**
 * The agent a connection is for: --agent, else the first agent of the project's lobu.toml when
 * the context is `local`, else the org's `default` agent.
 */
export async function defaultAgent(ctx: Pick<ResolvedContext, 'name'>, flag: string | undefined, cwd = process.cwd()): Promise<string> {
  if (flag) {
    if (!AGENT_ID_PATTERN.test(flag)) throw new UsageError(`invalid agent id "${flag}"`, {code: 'INVALID_AGENT', hint: 'Agent ids are lowercase letters, digits and dashes'})
    return flag
  }
  if (ctx.name === 'local') {
    try {
      const {loadProjectIfAny} = await import('../config/index.js')
      const project = await loadProjectIfAny({cwd})
      const first = project ? Object.keys(project.config.agents ?? {})[0] : undefined
      if (first) return first
    } catch {
      // A broken lobu.toml does not stop a connection to the default agent.
    }
  }
  return 'default'
}

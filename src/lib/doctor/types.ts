/** The shapes of `lobu doctor`: one check per line, each ok / warn / fail with an optional fix. */
export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface Check {
  /** Stable id, e.g. `node`, `credentials`, `providers:support`, `gateway:prod`. */
  id: string
  status: CheckStatus
  /** What was found; may span lines (continuation lines are details, e.g. lobu.toml errors). */
  message: string
  /** What to do about a warning or a failure. */
  fix?: string
}

export interface DoctorReport {
  /** True when no check failed (warnings are fine). */
  ok: boolean
  checks: Check[]
}

export interface DoctorOptions {
  /** The process environment (default: process.env). */
  env?: NodeJS.ProcessEnv
  /** Where to look for lobu.toml (default: process.cwd()). */
  cwd?: string
  /** The --config flag. */
  configPath?: string
  /** Check only this context's gateway (--context); default: every context. */
  context?: string
  /** Time allowed for each HTTP probe (default 2000 ms). */
  timeoutMs?: number
  /** The Node.js version to judge (default: process.versions.node). */
  nodeVersion?: string
  /** For token expiry (default: now). */
  now?: Date
}

export const DEFAULT_TIMEOUT_MS = 2_000

export function check(id: string, status: CheckStatus, message: string, fix?: string): Check {
  return fix === undefined ? {id, status, message} : {id, status, message, fix}
}

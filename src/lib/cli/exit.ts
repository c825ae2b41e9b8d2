import type {FailureKind} from '../core/errors.js'

/** The exit codes of lobu (README "Exit codes"). */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  noModel: 4,
  interrupted: 130,
} as const

const EXIT_OF_KIND: Record<FailureKind, number> = {
  failed: EXIT.failed,
  usage: EXIT.usage,
  auth: EXIT.auth,
  noModel: EXIT.noModel,
  interrupted: EXIT.interrupted,
}

/** The exit code of an error that ends a command: its kind's for a LobuError, else 1. */
export function exitCodeOf(err: unknown): number {
  const kind = (err as {kind?: unknown} | null)?.kind
  return typeof kind === 'string' && kind in EXIT_OF_KIND ? EXIT_OF_KIND[kind as FailureKind] : EXIT.failed
}

/**
 * The errors both sides of lobu raise for a user to read. A `LobuError` is printed as one
 * `Error: …` line plus an optional hint, never with a stack (unless --verbose / LOBU_DEBUG);
 * anything else that escapes a command is a bug and is printed with its stack under --verbose.
 *
 * An error says what kind of failure it is, never how a process exits: the CLI turns the kind
 * into an exit code in one place (`exitCodeOf` in src/lib/cli/exit.ts, used by BaseCommand.catch).
 */
export type FailureKind =
  /** the operation failed: server, network, provider */
  | 'failed'
  /** bad flag, invalid lobu.toml or configuration, missing $ENV reference: nothing was changed */
  | 'usage'
  /** not authenticated or forbidden */
  | 'auth'
  /** no model configured for the agent */
  | 'noModel'
  /** the user stopped it (Ctrl-C, a cancelled prompt) */
  | 'interrupted'

export interface LobuErrorOptions {
  hint?: string
  /** Machine-readable code, e.g. "CONFIG_INVALID", "UNAUTHENTICATED". */
  code?: string
  /** Extra lines printed after the message (e.g. one per validation problem). */
  details?: string[]
  cause?: unknown
}

export class LobuError extends Error {
  readonly kind: FailureKind
  readonly hint?: string
  readonly code: string
  readonly details: string[]

  constructor(message: string, kind: FailureKind = 'failed', options: LobuErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.kind = kind
    this.hint = options.hint
    this.code = options.code ?? 'FAILED'
    this.details = options.details ?? []
  }
}

/** The operation failed (server error, network, provider error). */
export class OperationError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, 'failed', {code: 'FAILED', ...options})
  }
}

/** Bad flag, invalid lobu.toml, missing $ENV reference. Nothing was changed. */
export class UsageError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, 'usage', {code: 'USAGE', ...options})
  }
}

/** Not authenticated or forbidden. */
export class AuthError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, 'auth', {code: 'UNAUTHENTICATED', ...options})
  }
}

/** No model configured for the agent. */
export class NoModelError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, 'noModel', {code: 'NO_MODEL_CONFIGURED', ...options})
  }
}

export function isLobuError(err: unknown): err is LobuError {
  return err instanceof LobuError
}

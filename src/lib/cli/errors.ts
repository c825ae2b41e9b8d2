/**
 * The error taxonomy of the CLI. A `LobuError` is a user-facing error: it is printed as one
 * `Error: …` line plus an optional hint, never with a stack (unless --verbose / LOBU_DEBUG).
 * Anything else that escapes a command is a bug and is printed with its stack under --verbose.
 *
 * Exit codes follow spec/cli.md: 1 operation failed, 2 usage/validation, 3 auth, 4 no model.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  noModel: 4,
  interrupted: 130,
} as const

export interface LobuErrorOptions {
  hint?: string
  /** Machine-readable code, e.g. "CONFIG_INVALID", "UNAUTHENTICATED". */
  code?: string
  /** Extra lines printed after the message (e.g. one per validation problem). */
  details?: string[]
  cause?: unknown
}

export class LobuError extends Error {
  readonly exitCode: number
  readonly hint?: string
  readonly code: string
  readonly details: string[]

  constructor(message: string, exitCode: number = EXIT.failed, options: LobuErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.exitCode = exitCode
    this.hint = options.hint
    this.code = options.code ?? 'FAILED'
    this.details = options.details ?? []
  }
}

/** Exit 1: the operation failed (server error, network, provider error). */
export class OperationError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, EXIT.failed, {code: 'FAILED', ...options})
  }
}

/** Exit 2: bad flag, invalid lobu.toml, missing $ENV reference. Nothing was changed. */
export class UsageError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, EXIT.usage, {code: 'USAGE', ...options})
  }
}

/** Exit 3: not authenticated or forbidden. */
export class AuthError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, EXIT.auth, {code: 'UNAUTHENTICATED', ...options})
  }
}

/** Exit 4: no model configured for the agent. */
export class NoModelError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, EXIT.noModel, {code: 'NO_MODEL_CONFIGURED', ...options})
  }
}

export function isLobuError(err: unknown): err is LobuError {
  return err instanceof LobuError
}

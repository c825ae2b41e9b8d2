import {LobuError, type LobuErrorOptions} from '../core/errors.js'

/**
 * The gateway's own errors, for what stops it from starting or serving: they say what failed
 * and how to fix it, and whether it is the gateway's configuration (a bad ENCRYPTION_KEY, no
 * storage) or the operation (a busy port, a locked data dir). Whoever runs the gateway decides
 * what that means for a process (the CLI: an exit code, in BaseCommand.catch).
 */
export class GatewayError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, 'failed', {code: 'FAILED', ...options})
  }
}

/** The gateway's configuration is wrong (environment, flags, key file): nothing was changed. */
export class GatewayConfigError extends LobuError {
  constructor(message: string, options: LobuErrorOptions = {}) {
    super(message, 'usage', {code: 'CONFIG_INVALID', ...options})
  }
}

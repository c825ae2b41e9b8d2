import {Command} from '@oclif/core'

import type {ApiClient} from '../client/index.js'
import {type ResolvedContext, resolveContext} from '../context/index.js'
import {BaseCommand, sharedFlags} from './base-command.js'

/**
 * The base of every command that talks to a gateway: adds `--context/-c` and lazy access to the
 * selected context and an API client carrying the context's token (bound to its origin).
 */
export abstract class GatewayCommand<T extends typeof Command> extends BaseCommand<T> {
  static baseFlags = {
    ...BaseCommand.baseFlags,
    context: sharedFlags.context(),
  }

  #context?: Promise<ResolvedContext>
  readonly #clients = new Map<boolean, Promise<ApiClient>>()

  /** The selected context: --context > $LOBU_CONTEXT > current > local (exit 2 when unknown). */
  protected context(): Promise<ResolvedContext> {
    this.#context ??= this.#resolveContext()
    return this.#context
  }

  /**
   * An API client for the selected context. Without a token for it: AuthError (exit 3), unless
   * `requireToken: false` (for unauthenticated routes such as /health).
   */
  protected client(options: {requireToken?: boolean} = {}): Promise<ApiClient> {
    const requireToken = options.requireToken ?? true
    let client = this.#clients.get(requireToken)
    if (!client) {
      client = this.#makeClient(requireToken)
      this.#clients.set(requireToken, client)
    }
    return client
  }

  async #resolveContext(): Promise<ResolvedContext> {
    const flag = (this.flags as {context?: string}).context
    const ctx = resolveContext({flag})
    if (!ctx.builtin) return ctx
    // The built-in `local` follows the port of the project in the current directory.
    const projectPort = await projectGatewayPort()
    return projectPort === undefined ? ctx : resolveContext({flag, projectPort})
  }

  async #makeClient(requireToken: boolean): Promise<ApiClient> {
    const ctx = await this.context()
    const {clientForContext} = await import('../client/index.js')
    return clientForContext(ctx, {requireToken, userAgent: `lobu/${this.config.version} node/${process.version}`})
  }
}

/** `gateway.port` of the project found from the current directory, if any (a broken lobu.toml is ignored here). */
export async function projectGatewayPort(cwd = process.cwd()): Promise<number | undefined> {
  try {
    const {loadProjectIfAny} = await import('../config/index.js')
    const project = await loadProjectIfAny({cwd})
    const port = project?.config.gateway?.port
    return typeof port === 'number' ? port : undefined
  } catch {
    return undefined
  }
}

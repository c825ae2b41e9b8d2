import {Command} from '@oclif/core'

import type {ApiClient} from '../client/index.js'
import type {Project} from '../config/types.js'
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
  readonly #projects = new Map<string, Promise<Project | undefined>>()

  /** The selected context: --context > $LOBU_CONTEXT > current > local (exit 2 when unknown). */
  protected context(): Promise<ResolvedContext> {
    this.#context ??= this.#resolveContext()
    return this.#context
  }

  /**
   * An API client for the selected context. Without a token for it: AuthError (exit 3), unless
   * `requireToken: false` (for unauthenticated routes such as /health). `fresh` reads the token
   * again (e.g. after an embedded gateway stored a new one); a failure is never cached.
   */
  protected client(options: {requireToken?: boolean; fresh?: boolean} = {}): Promise<ApiClient> {
    const requireToken = options.requireToken ?? true
    let client = options.fresh ? undefined : this.#clients.get(requireToken)
    if (!client) {
      client = this.#makeClient(requireToken)
      this.#clients.set(requireToken, client)
      client.catch(() => {
        if (this.#clients.get(requireToken) === client) this.#clients.delete(requireToken)
      })
    }
    return client
  }

  /**
   * The project of the working directory (or of `configPath`, the --config flag), loaded and
   * validated once per command however many times it is asked for: undefined when there is no
   * lobu.toml, ConfigError when it is invalid.
   */
  protected projectIfAny(configPath?: string): Promise<Project | undefined> {
    const key = configPath ?? ''
    let project = this.#projects.get(key)
    if (!project) {
      project = import('../config/index.js').then(({loadProjectIfAny}) => loadProjectIfAny({cwd: process.cwd(), configPath}))
      this.#projects.set(key, project)
    }
    return project
  }

  /** Like projectIfAny, but no lobu.toml is a UsageError (exit 2) with the `lobu init` hint. */
  protected async project(configPath?: string): Promise<Project> {
    const project = await this.projectIfAny(configPath)
    if (project) return project
    const {loadProject} = await import('../config/index.js')
    return loadProject({cwd: process.cwd(), configPath})
  }

  async #resolveContext(): Promise<ResolvedContext> {
    const flag = (this.flags as {context?: string}).context
    const ctx = resolveContext({flag})
    if (!ctx.builtin) return ctx
    // The built-in `local` follows the port of the project in the current directory (a broken
    // lobu.toml is ignored here).
    const project = await this.projectIfAny().catch(() => undefined)
    const projectPort = portOf(project)
    return projectPort === undefined ? ctx : resolveContext({flag, projectPort})
  }

  async #makeClient(requireToken: boolean): Promise<ApiClient> {
    const ctx = await this.context()
    const {clientForContext} = await import('../client/index.js')
    return clientForContext(ctx, {requireToken, userAgent: `lobu/${this.config.version} node/${process.version}`})
  }
}

function portOf(project: Project | undefined): number | undefined {
  const port = project?.config.gateway?.port
  return typeof port === 'number' ? port : undefined
}

/** `gateway.port` of the project found from the current directory, if any (a broken lobu.toml is ignored here). */
export async function projectGatewayPort(cwd = process.cwd()): Promise<number | undefined> {
  try {
    const {loadProjectIfAny} = await import('../config/index.js')
    return portOf(await loadProjectIfAny({cwd}))
  } catch {
    return undefined
  }
}

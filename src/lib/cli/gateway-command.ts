import {Command} from '@oclif/core'

import type {ApiClient} from '../client/index.js'
import {projectIdOf} from '../config/project-id.js'
import type {Project} from '../config/types.js'
import {type LocalProject, type ResolvedContext, resolveContext} from '../context/index.js'
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

  /**
   * Refuse (exit 2, naming both) when the context's gateway serves another project than
   * `project` (default: the project of the working directory, for `local`). A gateway that
   * serves no project (a team gateway) or does not answer passes: the command's own request
   * reports what is wrong then. `force` skips the check.
   */
  protected async guardProject(options: {project?: Project; force?: boolean; offerForce?: boolean} = {}): Promise<void> {
    if (options.force) return
    const ctx = await this.context()
    const {assertServesProject} = await import('./project-guard.js')
    const project = options.project ?? (ctx.project ? await this.projectIfAny().catch(() => undefined) : undefined)
    if (project) await assertServesProject(ctx, project, {force: options.offerForce})
  }

  async #resolveContext(): Promise<ResolvedContext> {
    const flag = (this.flags as {context?: string}).context
    const ctx = resolveContext({flag})
    if (!ctx.builtin) return ctx
    // The built-in `local` is the gateway of the project in the current directory (its
    // .lobu/gateway.json, else its port); a broken lobu.toml is ignored here.
    const project = await this.projectIfAny().catch(() => undefined)
    return project ? resolveContext({flag, project: localProjectOf(project)}) : ctx
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

/** What the built-in `local` needs to know of a project: its root, the id its gateway reports, its port. */
export function localProjectOf(project: Project): LocalProject {
  return {root: project.root, id: projectIdOf(project).id, port: portOf(project)}
}

/** The project found from the current directory, for `local` (a broken lobu.toml is ignored here). */
export async function localProjectHere(cwd = process.cwd()): Promise<LocalProject | undefined> {
  try {
    const {loadProjectIfAny} = await import('../config/index.js')
    const project = await loadProjectIfAny({cwd})
    return project ? localProjectOf(project) : undefined
  } catch {
    return undefined
  }
}

import {Command, Errors, Flags, Interfaces} from '@oclif/core'

import {LobuError, isLobuError} from '../core/errors.js'
import {EXIT, exitCodeOf} from './exit.js'
import {debugEnabled, neutralizeControls} from './terminal.js'

export type InferredFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>
export type InferredArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** Flags defined once and reused with the same meaning everywhere. */
export const sharedFlags = {
  context: () =>
    Flags.string({
      char: 'c',
      description: 'Context (named gateway) to use; else $LOBU_CONTEXT, the current context, or "local"',
      helpGroup: 'GLOBAL',
    }),
  agent: () => Flags.string({char: 'a', description: 'Agent id'}),
  config: () =>
    Flags.string({description: 'Path to lobu.toml (else $LOBU_CONFIG, else found by walking up)'}),
  yes: () => Flags.boolean({char: 'y', description: 'Do not prompt; take defaults and confirm'}),
}

/**
 * The base of every command: --json (the command returns its result object), --verbose,
 * and one catch() that maps errors to exit codes and one-line messages.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static enableJsonFlag = true
  static baseFlags = {
    verbose: Flags.boolean({description: 'Print debug details and stack traces on errors', helpGroup: 'GLOBAL'}),
  }

  protected flags!: InferredFlags<T>
  protected args!: InferredArgs<T>

  public async init(): Promise<void> {
    await super.init()
    const {args, flags} = await this.parse({
      args: this.ctor.args,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      flags: this.ctor.flags,
      strict: this.ctor.strict,
    })
    this.flags = flags as InferredFlags<T>
    this.args = args as InferredArgs<T>
  }

  /** Write a line to stderr (progress, hints, warnings): stdout is for data. */
  protected note(message = ''): void {
    process.stderr.write(message + '\n')
  }

  protected async catch(err: Error & {oclif?: {exit?: number}}): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err
    const verbose = debugEnabled(Boolean((this.flags as {verbose?: boolean} | undefined)?.verbose) || process.argv.includes('--verbose'))
    const json = this.jsonEnabled()

    let error: LobuError
    if (isLobuError(err)) {
      error = err
    } else if (err.oclif?.exit === EXIT.usage || 'parse' in err) {
      // oclif parse errors (unknown flag, missing argument, bad flag value): usage errors.
      error = new LobuError(err.message.split('\n')[0] ?? err.message, 'usage', {
        code: 'USAGE',
        details: err.message.split('\n').slice(1).filter(Boolean),
        hint: `See: lobu ${this.id?.replaceAll(':', ' ') ?? ''} --help`.trimEnd(),
      })
    } else {
      error = new LobuError(err.message || String(err), 'failed', {
        code: 'INTERNAL',
        hint: verbose ? undefined : 'This looks like a bug. Run again with --verbose for details.',
      })
    }

    if (json) {
      const body: Record<string, unknown> = {code: error.code, message: error.message}
      if (error.hint) body.hint = error.hint
      if (error.details.length > 0) body.details = error.details
      process.stdout.write(JSON.stringify({error: body}, null, 2) + '\n')
    } else {
      // Messages often carry a server's or a provider's text: no control character reaches stderr.
      const lines = [`Error: ${neutralizeControls(error.message)}`]
      for (const d of error.details) lines.push(`  ${neutralizeControls(d)}`)
      if (error.hint) lines.push(`Hint: ${neutralizeControls(error.hint)}`)
      process.stderr.write(lines.join('\n') + '\n')
    }
    if (verbose && err.stack) process.stderr.write(err.stack + '\n')
    throw new Errors.ExitError(exitCodeOf(error))
  }
}

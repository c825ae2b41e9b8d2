import {Args, Errors, Flags} from '@oclif/core'

import {sharedFlags} from '../lib/cli/base-command.js'
import {exitCodeOf} from '../lib/cli/exit.js'
import {GatewayCommand} from '../lib/cli/gateway-command.js'
import {canDecorate, canPrompt, neutralizeControls, startSpinner, styles, terminalWidth} from '../lib/cli/terminal.js'
import {isLobuError} from '../lib/core/errors.js'

export default class Chat extends GatewayCommand<typeof Chat> {
  static summary = 'Send a message to an agent and stream the reply'
  static description = `Streams the reply to stdout as it arrives. Without -t or -C every call starts a new thread; -t names a thread (created or resumed), -C resumes the last thread you used with this context and agent.

Tool calls are shown on stderr, one dim line each (\`⚙ files.read_text_file {"path":"a.txt"}  ✓ 12 ms\`). A call to a tool that is not read-only, pre-approved (tools.pre_approved in lobu.toml) or granted earlier asks first: on a terminal you choose Allow once, for 1 hour, for 24 hours, Always or Deny (see and drop grants with \`lobu tools\`); with --auto-approve each such call is approved once; otherwise (no terminal, --json) it is denied and stderr says how to allow it.

On the "local" context, when no gateway answers, an embedded one is started for this chat (same data dir, lock and auto-apply as \`lobu run\`) and stopped afterwards.

Exit codes: 0 answered, 1 failed (provider error, network, no event for --timeout seconds), 2 usage, 3 not authenticated, 4 no model configured for the agent, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM: the turn is cancelled and an embedded gateway stopped, within 3 s).`

  static examples = [
    {description: 'Ask the project’s first agent on the local gateway', command: '<%= config.bin %> <%= command.id %> "hello"'},
    {description: 'Pipe the prompt from a file', command: 'cat question.md | <%= config.bin %> <%= command.id %> -a support'},
    {description: 'A named thread, then a follow-up in the same thread', command: '<%= config.bin %> <%= command.id %> -t ticket-42 "summarize the issue" && <%= config.bin %> <%= command.id %> -C "and the fix?"'},
    {description: 'One JSON object per event, for scripts', command: '<%= config.bin %> <%= command.id %> -c prod --json "status report"'},
    {description: 'See which tools the agent would use, running none that writes', command: '<%= config.bin %> <%= command.id %> --dry-run "clean up the docs folder"'},
    {description: 'In CI: allow each tool call that asks, once', command: '<%= config.bin %> <%= command.id %> --auto-approve "update the changelog"'},
  ]

  static args = {
    prompt: Args.string({description: 'The message; "-" or omitted with piped stdin reads it from stdin', required: false}),
  }

  static flags = {
    agent: sharedFlags.agent(),
    thread: Flags.string({char: 't', description: 'Thread to create or resume (letters, digits, . _ : -; at most 128)'}),
    new: Flags.boolean({description: 'With --thread: start that thread afresh (its history is deleted)'}),
    continue: Flags.boolean({char: 'C', description: 'Resume the last thread used with this context and agent', exclusive: ['thread']}),
    'dry-run': Flags.boolean({
      description: 'Run no tool that has side effects: every tool not marked read-only is answered "skipped (dry run)" (even pre-approved or with --auto-approve); the turn runs and history is kept',
    }),
    'auto-approve': Flags.boolean({description: 'Approve, once each, every tool call that asks for approval (no question)'}),
    boot: Flags.boolean({default: true, allowNo: true, description: 'Start an embedded gateway when the local one is not running (--no-boot: fail instead)'}),
    timeout: Flags.integer({min: 1, default: 300, description: 'Give up after this many seconds without any event'}),
  }

  /** Set by SIGTERM: the interrupted turn exits 143 (128 + 15) rather than 130. */
  private terminated = false

  async run(): Promise<void> {
    const {flags, args} = this
    const json = this.jsonEnabled()
    const controller = new AbortController()
    let interrupts = 0
    const onSigint = () => {
      interrupts++
      if (interrupts > 1) process.exit(130)
      controller.abort()
    }
    // SIGTERM ends the turn like Ctrl-C (an embedded gateway is closed), with a bound: whatever
    // is left hanging after 3 s, the process exits (128 + 15).
    const onSigterm = () => {
      this.terminated = true
      controller.abort()
      setTimeout(() => process.exit(143), 3000).unref()
    }
    process.on('SIGINT', onSigint)
    process.on('SIGTERM', onSigterm)
    try {
      const {readPrompt, runChat} = await import('../lib/chat/index.js')
      const prompt = await readPrompt({arg: args.prompt, stdin: process.stdin})
      const ctx = await this.context()
      const project = ctx.name === 'local' ? await this.projectIfAny() : undefined
      if (project && !json && flags.verbose) {
        const {formatWarning} = await import('../lib/config/issues.js')
        for (const w of project.warnings) this.note(formatWarning(w))
      }
      // chalk only when there is colour to show.
      const dim = canDecorate({json}) ? (await styles({json})).dim : undefined
      await runChat({
        prompt,
        agent: flags.agent,
        thread: flags.thread,
        forceNew: flags.new,
        continue: flags.continue,
        dryRun: flags['dry-run'],
        autoApprove: flags['auto-approve'],
        // A prompt read from stdin leaves no terminal to answer a question on.
        canPrompt: canPrompt({json}) && args.prompt !== undefined && args.prompt !== '-',
        timeoutSec: flags.timeout,
        boot: flags.boot,
        ctx,
        project,
        client: (fresh) => this.client({fresh}),
        signal: controller.signal,
        version: this.config.version,
        output: {
          json,
          verbose: flags.verbose,
          stdout: process.stdout,
          stderr: process.stderr,
          spinner: () => startSpinner('Thinking…', {json}),
          dim: dim && ((text) => dim(text)),
          // On a terminal the model's text cannot move the cursor, set the title or the clipboard;
          // piped or redirected, it is written byte for byte.
          text: process.stdout.isTTY ? (text) => neutralizeControls(text.replaceAll('\r\n', '\n'), {multiline: true}) : undefined,
          width: terminalWidth(process.stderr),
        },
      })
    } finally {
      process.off('SIGINT', onSigint)
      process.off('SIGTERM', onSigterm)
    }
  }

  protected async catch(err: Error & {oclif?: {exit?: number}}): Promise<unknown> {
    if (isLobuError(err) && err.code === 'INTERRUPTED') throw new Errors.ExitError(this.terminated ? 143 : ((err as {exitCode?: number}).exitCode ?? 130)) // 143 for a SIGTERM (during an embedded boot too)
    if (this.jsonEnabled() && isLobuError(err)) {
      // --json: stdout holds one JSON object per line; an error the stream did not report becomes one too.
      if (!(err as {reported?: boolean}).reported) {
        const data: Record<string, unknown> = {code: err.code, message: err.message}
        if (err.hint) data.hint = err.hint
        process.stdout.write(JSON.stringify({event: 'error', data}) + '\n')
      }
      throw new Errors.ExitError(exitCodeOf(err))
    }
    return super.catch(err)
  }
}

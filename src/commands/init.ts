import {Args, Flags} from '@oclif/core'

import {BaseCommand, sharedFlags} from '../lib/cli/base-command.js'
import {canDecorate, canPrompt, styles} from '../lib/cli/terminal.js'
import type {InitResult} from '../lib/init/index.js'

export default class Init extends BaseCommand<typeof Init> {
  static summary = 'Create a Lobu project: lobu.toml, an agent, .env.example, .gitignore, README'
  static description = `Scaffolds a project into ./NAME, or into the current directory with "." or --here.

On a terminal it asks for the agent id, the provider, the model and whether to save the provider key into .env; every question has a flag. With --yes, or when stdin is not a terminal or CI is set, it takes the flags and defaults without asking and writes .env only when the provider's key variable is set in the environment.

Nothing is written when a flag is invalid or the directory already holds a lobu.toml (unless --force).`

  static examples = [
    {description: 'Create ./support with the defaults (openai, gpt-4o-mini)', command: '<%= config.bin %> <%= command.id %> support'},
    {description: 'Use the current directory and Anthropic', command: '<%= config.bin %> <%= command.id %> . --provider anthropic'},
    {description: 'No questions, custom agent id and port', command: '<%= config.bin %> <%= command.id %> desk --agent helper --port 8790 --yes'},
    {description: 'Machine-readable result', command: '<%= config.bin %> <%= command.id %> demo --yes --json'},
  ]

  static args = {
    name: Args.string({description: 'Directory to create the project in ("." for the current directory)'}),
  }

  static flags = {
    here: Flags.boolean({description: 'Use the current directory (same as NAME ".")'}),
    agent: Flags.string({char: 'a', description: 'Agent id (default: the directory name, slugged)'}),
    provider: Flags.string({char: 'p', description: 'Model provider id from the catalog, e.g. openai, anthropic, gemini, ollama (default: openai)'}),
    model: Flags.string({char: 'm', description: "Model id (default: the provider's default model)"}),
    // A string, validated by initProject, so `--port abc` is a usage error like `--port 0`.
    port: Flags.string({description: 'Local gateway port written to [gateway] port, 1-65535 (default: 8787)'}),
    force: Flags.boolean({char: 'f', description: 'Overwrite existing project files'}),
    yes: sharedFlags.yes(),
  }

  async run(): Promise<InitResult> {
    const {flags, args} = this
    const {initProject} = await import('../lib/init/index.js')
    const interactive = canPrompt({yes: flags.yes, json: flags.json})
    const prompter = interactive ? await (await import('../lib/init/prompts.js')).inquirerPrompter() : undefined

    const outcome = await initProject({
      cwd: process.cwd(),
      name: args.name,
      here: flags.here,
      agent: flags.agent,
      provider: flags.provider,
      model: flags.model,
      port: flags.port,
      force: flags.force,
      env: process.env,
      prompter,
    })

    if (!this.jsonEnabled()) {
      const {formatSummary} = await import('../lib/init/output.js')
      const chalk = await styles({json: flags.json})
      const style = canDecorate({json: flags.json}) ? {bold: chalk.bold, dim: chalk.dim, green: chalk.green} : undefined
      process.stderr.write((interactive ? '\n' : '') + formatSummary(outcome, style))
    }
    return outcome.result
  }
}

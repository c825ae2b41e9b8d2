import {Flags} from '@oclif/core'

import {sharedFlags} from '../lib/cli/base-command.js'
import {UsageError} from '../lib/core/errors.js'
import {GatewayCommand} from '../lib/cli/gateway-command.js'
import {canDecorate, canPrompt, styles} from '../lib/cli/terminal.js'
import type {ApplyResult, Plan, PlanSummary, RenderStyle} from '../lib/apply/index.js'

export interface ApplyCommandResult {
  target: {context: string; url: string; project: string}
  plan: Plan
  applied: ApplyResult | null
  summary: PlanSummary
}

export default class Apply extends GatewayCommand<typeof Apply> {
  static summary = "Make the gateway's agents match lobu.toml"
  static description = `Validates lobu.toml and resolves every $NAME (exit 2 listing all problems, nothing sent), asks the gateway for a plan of the whole desired state, shows it (+ create, ~ update with field-level changes, - delete, = unchanged; secret values are never shown), asks for confirmation and applies that plan in one transaction.

Applying is idempotent: a second apply of the same file changes nothing. Provider keys read from the environment are sent once and stored as encrypted org secrets.

Exit codes: 0 done, 1 failed, 2 invalid lobu.toml / missing $NAME / confirmation needed, 3 not authenticated. With --detailed-exitcode: 0 no changes, 2 changes present (--dry-run) or applied, 1 error.`

  static examples = [
    {description: 'Show the plan and apply it after confirmation', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Only show what would change', command: '<%= config.bin %> <%= command.id %> --dry-run'},
    {description: 'Apply without asking, deleting agents removed from lobu.toml', command: '<%= config.bin %> <%= command.id %> --yes --prune'},
    {description: 'CI drift check: exit 2 when the gateway differs from lobu.toml', command: '<%= config.bin %> <%= command.id %> -c prod --dry-run --detailed-exitcode'},
    {description: 'Machine-readable plan and result', command: '<%= config.bin %> <%= command.id %> --yes --json'},
  ]

  static flags = {
    config: sharedFlags.config(),
    'dry-run': Flags.boolean({description: 'Only show the plan; change nothing'}),
    yes: Flags.boolean({char: 'y', description: 'Apply without asking for confirmation (required without a terminal)'}),
    prune: Flags.boolean({description: 'Delete agents this project applied before and no longer declares (needs project.id in lobu.toml)'}),
    'detailed-exitcode': Flags.boolean({description: 'Exit 0 when there are no changes, 2 when there are changes (planned or applied), 1 on error'}),
    force: Flags.boolean({description: "Apply even when the gateway serves another project (its /health names a project that is not this one)"}),
  }

  async run(): Promise<ApplyCommandResult> {
    const {flags} = this
    const json = this.jsonEnabled()
    const {formatWarning} = await import('../lib/config/issues.js')
    const {buildDesiredState, projectIdOf, runApply} = await import('../lib/apply/index.js')

    // 1. lobu.toml and every $NAME, before anything is sent.
    const project = await this.project(flags.config)
    for (const issue of project.warnings) this.note(formatWarning(issue))
    const {id, declared} = projectIdOf(project)
    if (!declared) {
      if (flags.prune) {
        throw new UsageError('--prune needs a project id in lobu.toml', {
          code: 'PROJECT_ID_REQUIRED',
          hint: 'Add `[project]` with `id = "<name>-<6 hex>"` to lobu.toml: prune only deletes agents of that project',
        })
      }
      this.note(`Warning: lobu.toml has no project.id; its agents are marked as managed by "${id}" (the directory name)`)
    }
    const desired = await buildDesiredState(project, process.env)

    // 2. where: never into another project's gateway (unless --force), and say where.
    const ctx = await this.context()
    await this.guardProject({project, force: flags.force, offerForce: true})
    const target = {context: ctx.name, url: ctx.url, project: id}
    if (!json) process.stdout.write(`Target: ${target.context} (${target.url}, project ${target.project})\n`)

    // 3. plan → render → confirm → apply.
    const client = await this.client()
    const interactive = canPrompt({yes: flags.yes, json})
    const confirm = interactive ? (await import('../lib/apply/prompt.js')).confirmOnTerminal : undefined
    const result = await runApply({
      client,
      desired,
      prune: flags.prune,
      dryRun: flags['dry-run'],
      yes: flags.yes,
      confirm,
      io: {
        out: (line) => {
          if (!json) process.stdout.write(line + '\n')
        },
        err: (line) => this.note(line),
      },
      style: await this.renderStyle(json),
    })

    if (flags['detailed-exitcode']) {
      const changes = result.changed && (flags['dry-run'] || result.applied !== null)
      process.exitCode = changes ? 2 : 0
    }
    return {target, plan: result.plan, applied: result.applied, summary: result.summary}
  }

  private async renderStyle(json: boolean): Promise<RenderStyle | undefined> {
    if (!process.stdout.isTTY || !canDecorate({json})) return undefined
    const chalk = await styles({json})
    return {add: chalk.green, change: chalk.yellow, remove: chalk.red, dim: chalk.dim}
  }
}

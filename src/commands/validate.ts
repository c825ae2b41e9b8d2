import {BaseCommand, sharedFlags} from '../lib/cli/base-command.js'
import {EXIT} from '../lib/cli/exit.js'
import {type ValidationReport, formatWarning, validateProject} from '../lib/config/index.js'

export default class Validate extends BaseCommand<typeof Validate> {
  static summary = 'Check lobu.toml: schema, provider ids, MCP servers, agent dirs and $NAME references'

  static description = `Reports every problem of the file at once, one per line: FILE:LINE:COL  KEY  PROBLEM.
Unset $NAME references and keys this version does not act on yet are warnings. Exits 2 when there is any error.`

  static examples = [
    '<%= config.bin %> validate',
    '<%= config.bin %> validate --config ./deploy/lobu.toml',
    '<%= config.bin %> validate --json',
  ]

  static flags = {
    config: sharedFlags.config(),
  }

  async run(): Promise<ValidationReport> {
    const {error, report} = await validateProject({configPath: this.flags.config})
    if (!this.jsonEnabled()) for (const warning of report.warnings) this.note(formatWarning(warning))

    if (error) {
      if (!this.jsonEnabled()) throw error
      this.logJson(report)
      this.exit(EXIT.usage)
    }

    const n = report.agents.length
    const list = n > 0 ? ` (${report.agents.join(', ')})` : ''
    this.log(`✓ ${report.file} is valid: ${n} agent${n === 1 ? '' : 's'}${list}`)
    return report
  }
}

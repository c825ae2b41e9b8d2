import {BaseCommand, sharedFlags} from '../lib/cli/base-command.js'
import {EXIT} from '../lib/cli/exit.js'
import {canDecorate} from '../lib/cli/terminal.js'
import type {DoctorReport} from '../lib/doctor/types.js'

export default class Doctor extends BaseCommand<typeof Doctor> {
  static summary = 'Diagnose the setup: Node.js, permissions, lobu.toml, provider keys, port, data dir, gateways'

  static description = `Prints one line per check (ok, warn or fail) and how to fix each problem. Checks Node.js, the config dir and credentials.json permissions, lobu.toml and its $NAME references, provider keys, the data dir and its lock, the local port, and for every context (or only --context) whether its gateway answers and accepts the stored token.
Changes nothing. Exits 1 when a check fails; warnings alone exit 0.`

  static examples = [
    '<%= config.bin %> doctor',
    {description: 'Only the gateway of one context', command: '<%= config.bin %> doctor -c prod'},
    {description: 'For scripts: {ok, checks: [{id, status, message, fix}]}', command: '<%= config.bin %> doctor --json'},
  ]

  static flags = {
    context: sharedFlags.context(),
    config: sharedFlags.config(),
  }

  async run(): Promise<DoctorReport> {
    const {renderReport, runDoctor} = await import('../lib/doctor/index.js')
    const report = await runDoctor({context: this.flags.context, configPath: this.flags.config})
    if (this.jsonEnabled()) {
      if (report.ok) return report
      this.logJson(report)
      this.exit(EXIT.failed)
    }
    process.stdout.write(renderReport(report, {color: canDecorate() && Boolean(process.stdout.isTTY)}))
    if (!report.ok) this.exit(EXIT.failed)
    return report
  }
}

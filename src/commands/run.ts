import {Flags} from '@oclif/core'

import {BaseCommand, sharedFlags} from '../lib/cli/base-command.js'

export default class Run extends BaseCommand<typeof Run> {
  static aliases = ['dev', 'start']
  static summary = 'Run the embedded gateway (HTTP API + embedded Postgres) in the foreground'
  static description = `Boots the gateway on 127.0.0.1, stores its own admin token for it, records itself in <project>/.lobu/gateway.json (so \`local\` in this project means this gateway; no global context is changed) and applies the project's lobu.toml to org "local". Data lives in <project>/.lobu/data (PGlite) unless DATABASE_URL names a PostgreSQL server. Stops cleanly on Ctrl-C.`
  static examples = [
    {description: 'Serve the project in this directory on the default port', command: '<%= config.bin %> run'},
    {description: 'Another port, re-applying lobu.toml on every edit', command: '<%= config.bin %> run --port 8788 --watch'},
    {description: 'Never send a turn\'s done before it is stored (no turn lost on kill -9)', command: '<%= config.bin %> run --durable'},
    {description: 'Use a PostgreSQL server instead of the embedded database', command: 'DATABASE_URL=postgres://lobu@127.0.0.1/lobu ENCRYPTION_KEY=$(openssl rand -base64 32) <%= config.bin %> run'},
  ]
  static enableJsonFlag = false
  static flags = {
    port: Flags.integer({char: 'p', min: 1, max: 65535, description: 'Port to listen on (else gateway.port of lobu.toml, else 8787)'}),
    host: Flags.string({default: '127.0.0.1', description: 'Address to bind; anything but loopback prints a warning'}),
    'data-dir': Flags.string({description: 'Data directory (else $LOBU_DATA_DIR, else <project>/.lobu/data)'}),
    apply: Flags.boolean({default: true, allowNo: true, description: "Apply lobu.toml to org \"local\" at boot (--no-apply to skip)"}),
    watch: Flags.boolean({char: 'w', description: 'Re-apply when lobu.toml or an agent directory changes'}),
    quiet: Flags.boolean({char: 'q', description: 'Print nothing but errors'}),
    durable: Flags.boolean({
      description: "Send a chat turn's done only once it is stored (as on PostgreSQL): a killed process then never loses a turn its client saw end. Without it, PGlite stores turns in batches just after their done",
    }),
    'log-level': Flags.option({options: ['error', 'warn', 'info', 'debug'] as const, default: 'warn', description: 'Gateway log level (stderr)'})(),
    config: sharedFlags.config(),
  }

  async run(): Promise<void> {
    // First: a SIGINT/SIGTERM from now on stops the boot cleanly (exit 130/143), or, once up,
    // shuts the gateway down (exit 0).
    const {installStopSignals} = await import('../lib/embedded/signals.js')
    const stop = installStopSignals({onSecond: (signal) => process.stderr.write(`\n${signal} again: exiting now.\n`)})
    const {flags} = this
    const {trace} = await import('../lib/core/trace.js')
    trace('run: command started')
    const {loadProjectIfAny, formatWarning} = await import('../lib/config/index.js')
    const project = await loadProjectIfAny({cwd: process.cwd(), configPath: flags.config})
    if (project && !flags.quiet) for (const w of project.warnings) this.note(formatWarning(w))

    const levels = ['error', 'warn', 'info', 'debug']
    const max = levels.indexOf(flags.verbose ? 'debug' : flags['log-level'])
    trace('run: project loaded')
    const {runForeground} = await import('../lib/embedded/run.js')
    const code = await runForeground({
      cwd: process.cwd(),
      configPath: flags.config,
      project,
      port: flags.port,
      host: flags.host,
      dataDir: flags['data-dir'],
      apply: flags.apply && Boolean(project),
      watch: flags.watch,
      quiet: flags.quiet,
      version: this.config.version,
      logger: (level, msg) => {
        if (levels.indexOf(level) <= max) process.stderr.write(`[gateway] ${level}: ${msg}\n`)
      },
      logRequests: max >= levels.indexOf('debug'),
      signal: stop.signal,
      durable: flags.durable,
    })
    if (code !== 0) this.exit(code)
  }
}

import {Flags} from '@oclif/core'

import {BaseCommand, sharedFlags} from '../../lib/cli/base-command.js'
import {UsageError} from '../../lib/core/errors.js'

export default class DbDump extends BaseCommand<typeof DbDump> {
  static summary = 'Write the local data dir as plain SQL that psql restores into PostgreSQL 15+'
  static description = `Reads the embedded (PGlite) database of a data dir and prints it as SQL: the schema (lobu's migrations), every table's rows in foreign-key order, the sequences, all in one transaction. Restore it into an EMPTY PostgreSQL 15+ database with psql, then run the gateway there with DATABASE_URL and the same ENCRYPTION_KEY (the content of <data dir>/encryption.key): secrets stay encrypted in the dump.
The data dir is locked while it is read: stop \`lobu run\` first. Nothing in it is changed.`
  static examples = [
    {description: "Dump this project's data dir", command: '<%= config.bin %> db dump > lobu.sql'},
    {description: 'Another data dir, to a file (written whole or not at all)', command: '<%= config.bin %> db dump --data-dir ~/lobu-data -o lobu.sql'},
    {
      description: 'Move to PostgreSQL: restore, then run the gateway on it with the install key',
      command:
        'createdb lobu && psql -v ON_ERROR_STOP=1 -d lobu -f lobu.sql && DATABASE_URL=postgres:///lobu ENCRYPTION_KEY=$(cat .lobu/data/encryption.key) <%= config.bin %> run',
    },
  ]
  static enableJsonFlag = false
  static flags = {
    'data-dir': Flags.string({description: 'Data directory (else $LOBU_DATA_DIR, else <project>/.lobu/data)'}),
    output: Flags.string({char: 'o', description: 'Write to this file (replaced only once the dump is complete) instead of stdout'}),
    quiet: Flags.boolean({char: 'q', description: 'Print no summary on stderr'}),
    config: sharedFlags.config(),
  }

  async run(): Promise<void> {
    const {flags} = this
    if (!flags.output && process.stdout.isTTY) {
      throw new UsageError('the dump is SQL for a file, not for the terminal', {hint: 'Redirect it (lobu db dump > lobu.sql) or pass -o lobu.sql.'})
    }
    const {loadProjectIfAny} = await import('../../lib/config/index.js')
    const {resolveDataDir} = await import('../../lib/embedded/boot.js')
    const {dumpDataDir} = await import('../../lib/embedded/db-dump.js')
    const {fileSink, stdoutSink} = await import('../../lib/embedded/sink.js')
    const project = flags['data-dir'] ? undefined : await loadProjectIfAny({cwd: process.cwd(), configPath: flags.config})
    const dataDir = resolveDataDir({flag: flags['data-dir'], project})

    const sink = flags.output ? await fileSink(flags.output) : stdoutSink()
    let summary
    try {
      summary = await dumpDataDir({dataDir, write: (chunk) => sink.write(chunk)})
      await sink.finish()
    } catch (err) {
      await sink.abort()
      throw err
    }
    if (!flags.quiet) {
      const rows = summary.tables.reduce((n, t) => n + t.rows, 0)
      this.note(`Dumped ${summary.dataDir} (schema version ${summary.schemaVersion}): ${summary.tables.length} tables, ${rows} rows${flags.output ? ` to ${flags.output}` : ''}.`)
      this.note(`Secrets stay encrypted: a gateway on the restored database needs ENCRYPTION_KEY set to the content of ${summary.dataDir}/encryption.key.`)
    }
  }
}

import {Flags} from '@oclif/core'

import {BaseCommand, sharedFlags} from '../../lib/cli/base-command.js'

export default class DbMigrate extends BaseCommand<typeof DbMigrate> {
  static summary = 'Copy the local data dir into an empty PostgreSQL database, then check the row counts'
  static description = `Copies every table of the embedded (PGlite) database into an EMPTY PostgreSQL 15+ database (refused if it has any table), in one transaction, then compares the row count of every table. Secrets are copied encrypted: the install key is printed on stderr, to set as ENCRYPTION_KEY for every gateway on that database. The data dir is locked while it is read (stop \`lobu run\` first) and not changed.`
  static examples = [
    {description: "Move this project's data to PostgreSQL", command: '<%= config.bin %> db migrate --to postgres://lobu@127.0.0.1/lobu'},
    {description: 'The summary as JSON (the key only with --show-key)', command: '<%= config.bin %> db migrate --to "$DATABASE_URL" --json'},
  ]
  static enableJsonFlag = true
  static flags = {
    to: Flags.string({required: true, description: 'URL of the empty PostgreSQL database (postgres://…)'}),
    'data-dir': Flags.string({description: 'Data directory (else $LOBU_DATA_DIR, else <project>/.lobu/data)'}),
    'show-key': Flags.boolean({description: 'Include the install key (encryptionKey) in the --json output'}),
    config: sharedFlags.config(),
  }

  async run(): Promise<unknown> {
    const {flags} = this
    const {loadProjectIfAny} = await import('../../lib/config/index.js')
    const {resolveDataDir} = await import('../../lib/embedded/boot.js')
    const {migrateDataDir} = await import('../../lib/embedded/db-migrate.js')
    const project = flags['data-dir'] ? undefined : await loadProjectIfAny({cwd: process.cwd(), configPath: flags.config})
    const dataDir = resolveDataDir({flag: flags['data-dir'], project})
    const result = await migrateDataDir({dataDir, to: flags.to})
    const {encryptionKey, ...rest} = result
    const json = this.jsonEnabled()
    if (!json) {
      for (const t of result.tables) this.log(`${t.name.padEnd(20)} ${String(t.rows).padStart(8)} rows  ok`)
      this.note(`Copied ${result.dataDir} (schema version ${result.schemaVersion}) to ${result.target}; row counts match.`)
    }
    if (encryptionKey && !(json && flags['show-key'])) {
      // stderr only: never in stdout's JSON unless --show-key asks for it.
      this.note('WARNING: the next line is the install key that decrypts every stored secret. Keep it secret; set it on every gateway of that database:')
      this.note(`ENCRYPTION_KEY=${encryptionKey}`)
    }
    if (json && flags['show-key']) return result
    return rest
  }
}

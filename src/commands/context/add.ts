import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/cli/base-command.js'
import {addContext, useContext} from '../../lib/context/index.js'

export default class ContextAdd extends BaseCommand<typeof ContextAdd> {
  static description = 'Add a context: a name for a gateway URL'
  static examples = [
    '<%= config.bin %> context add prod --url https://lobu.example.com',
    '<%= config.bin %> context add staging --url https://staging.lobu.example.com --use',
  ]

  static args = {
    name: Args.string({description: 'Context name (letters, digits, "_", "." and "-")', required: true}),
  }

  static flags = {
    url: Flags.string({description: 'Gateway base URL (http or https)', required: true}),
    use: Flags.boolean({description: 'Also make it the current context'}),
  }

  async run(): Promise<{name: string; url: string; current: boolean}> {
    const added = addContext(this.args.name, this.flags.url)
    if (this.flags.use) useContext(added.name)
    if (!this.jsonEnabled()) {
      this.note(`Added context ${added.name} → ${added.url}${this.flags.use ? ' (now current)' : ''}`)
      this.note(`Next: lobu oauth login -c ${added.name}`)
    }
    return {...added, current: this.flags.use}
  }
}

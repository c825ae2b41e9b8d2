import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/cli/base-command.js'
import {useContext} from '../../lib/context/index.js'

export default class ContextUse extends BaseCommand<typeof ContextUse> {
  static description = 'Make a context the current one (used when neither --context nor LOBU_CONTEXT is given)'
  static examples = ['<%= config.bin %> context use prod', '<%= config.bin %> context use local']

  static args = {
    name: Args.string({description: 'Context name', required: true}),
  }

  async run(): Promise<{name: string; url: string}> {
    const ctx = useContext(this.args.name)
    if (!this.jsonEnabled()) {
      this.note(`Switched to context ${ctx.name} (${ctx.url})`)
      const fromEnv = process.env.LOBU_CONTEXT
      if (fromEnv && fromEnv !== ctx.name) this.note(`Note: LOBU_CONTEXT=${fromEnv} still overrides it in this shell`)
    }
    return ctx
  }
}

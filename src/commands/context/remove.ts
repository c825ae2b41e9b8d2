import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/cli/base-command.js'
import {localProjectHere} from '../../lib/cli/gateway-command.js'
import {type RemovedContext, removeContext} from '../../lib/context/index.js'

export default class ContextRemove extends BaseCommand<typeof ContextRemove> {
  static description = `Remove a context and forget its stored token
The token is kept when another context still points at the same gateway origin. Removing "local" only removes its override: the built-in local context remains.`

  static hiddenAliases = ['context:rm']
  static examples = ['<%= config.bin %> context remove staging']

  static args = {
    name: Args.string({description: 'Context name', required: true}),
  }

  async run(): Promise<RemovedContext> {
    const removed = removeContext(this.args.name, {project: await localProjectHere()})
    if (!this.jsonEnabled()) {
      if (removed.overrideOnly) {
        this.note(`Removed the override of context local; it now points at the project's gateway port (default 8787)`)
      } else {
        this.note(`Removed context ${removed.name} (${removed.url})${removed.forgotToken ? ' and its stored token' : ''}`)
      }
    }
    return removed
  }
}

import {BaseCommand} from '../../lib/cli/base-command.js'
import {localProjectHere} from '../../lib/cli/gateway-command.js'
import {type ContextInfo, listContexts} from '../../lib/context/index.js'
import {formatTable} from '../../lib/credentials/format.js'

export default class ContextList extends BaseCommand<typeof ContextList> {
  static description = 'List the contexts (named gateway URLs); the current one is marked with *'
  static hiddenAliases = ['context:ls']
  static examples = ['<%= config.bin %> context list', '<%= config.bin %> context list --json']

  async run(): Promise<ContextInfo[]> {
    const contexts = listContexts({project: await localProjectHere()})
    if (!this.jsonEnabled()) {
      const rows = [['', 'NAME', 'URL', '']]
      for (const c of contexts) {
        rows.push([c.current ? '*' : '', c.name, c.url, c.builtin ? '(built in)' : ''])
      }
      this.log(formatTable(rows))
      const fromEnv = process.env.LOBU_CONTEXT
      if (fromEnv) this.note(`LOBU_CONTEXT=${fromEnv} overrides the current context in this shell`)
    }
    return contexts
  }
}

import {BaseCommand} from '../../lib/cli/base-command.js'
import {localProjectHere} from '../../lib/cli/gateway-command.js'
import {type ResolvedContext, resolveContext} from '../../lib/context/index.js'

export default class ContextCurrent extends BaseCommand<typeof ContextCurrent> {
  static description = `Print the context commands use by default
$LOBU_CONTEXT wins over the current context of config.json; without either it is "local".`

  static examples = ['<%= config.bin %> context current', '<%= config.bin %> context current --json']

  async run(): Promise<ResolvedContext> {
    let ctx = resolveContext()
    if (ctx.builtin) ctx = resolveContext({project: await localProjectHere()})
    if (!this.jsonEnabled()) {
      this.log(ctx.name)
      const why = {flag: '', env: 'from LOBU_CONTEXT', current: 'current in config.json', default: 'default'}[ctx.source]
      this.note(`${ctx.url} (${why})`)
    }
    return ctx
  }
}

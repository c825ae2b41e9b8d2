import {Args} from '@oclif/core'

import {UsageError} from '../../lib/core/errors.js'
import {GatewayCommand} from '../../lib/cli/gateway-command.js'

export interface SwitchResult {
  context: string
  origin: string
  account: string
  kind: string
}

export default class AuthSwitch extends GatewayCommand<typeof AuthSwitch> {
  static description = `Choose which stored account a context uses on its gateway
ACCOUNT is user@org (see \`lobu auth status\`) or a token id. Without ACCOUNT on a terminal, and with exactly two accounts, the other one is taken.`

  static examples = ['<%= config.bin %> auth switch -c acme ada@acme', '<%= config.bin %> auth switch -c local local@local', '<%= config.bin %> auth switch -c prod']

  static args = {
    account: Args.string({description: 'user@org or token id of a stored account', required: false}),
  }

  async run(): Promise<SwitchResult> {
    const ctx = await this.context()
    const {activeAccount, listAccounts, switchAccount, accountName} = await import('../../lib/credentials/index.js')
    let name = this.args.account
    if (name === undefined) {
      const accounts = listAccounts().find((o) => o.origin === ctx.origin)?.accounts ?? []
      const current = activeAccount(ctx)
      const others = accounts.filter((a) => a.token !== current?.token)
      if (others.length !== 1) {
        throw new UsageError(`say which account context "${ctx.name}" should use`, {
          code: 'USAGE',
          hint: accounts.length > 0 ? `lobu auth switch -c ${ctx.name} ACCOUNT (one of: ${accounts.map((a) => a.name).join(', ')})` : `No account stored for ${ctx.origin}: lobu oauth login -c ${ctx.name}`,
        })
      }
      name = others[0]!.name
    }
    const account = switchAccount(ctx, name)
    const result = {context: ctx.name, origin: ctx.origin, account: accountName(account), kind: account.kind}
    if (!this.jsonEnabled()) {
      this.note(`Context ${ctx.name} now uses ${result.account} on ${ctx.origin}`)
      if (process.env.LOBU_TOKEN) this.note('Note: LOBU_TOKEN is set and wins over stored accounts in this shell')
    }
    return result
  }
}

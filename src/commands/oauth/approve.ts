import {Args} from '@oclif/core'

import {GatewayCommand} from '../../lib/cli/gateway-command.js'

interface Approved {
  approved: true
  clientId: string
  scopes: string[]
  org: string
}

export default class OAuthApprove extends GatewayCommand<typeof OAuthApprove> {
  static description = `Approve a device login from this logged-in CLI
Another machine ran \`lobu oauth login\` and shows a code: approving it gives that machine a token of your user in your org, with the scopes it asked for (only scopes your token holds). Needs the tokens:write scope.`

  static examples = ['<%= config.bin %> oauth approve BCDF-GHJK -c prod', '<%= config.bin %> oauth approve bcdfghjk --json']

  static args = {
    code: Args.string({description: 'The XXXX-XXXX code shown by `lobu oauth login`', required: true}),
  }

  async run(): Promise<Approved> {
    const {normalizeUserCodeInput} = await import('../../lib/oauth/index.js')
    const code = normalizeUserCodeInput(this.args.code)
    const ctx = await this.context()
    const client = await this.client()
    const approved = await client.post<Approved>('/oauth/device/approve', {user_code: code})
    if (!this.jsonEnabled()) {
      this.note(`Approved ${code} for ${approved.clientId} · org ${approved.org} · scopes: ${approved.scopes.join(' ')} (${ctx.url})`)
    }
    return approved
  }
}

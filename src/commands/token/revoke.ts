import {Args} from '@oclif/core'

import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {forgetToken, getStoredToken} from '../../lib/credentials/index.js'

export default class TokenRevoke extends GatewayCommand<typeof TokenRevoke> {
  static description = `Revoke one of your tokens on the gateway
If it is the token stored for this context, it is forgotten locally too.`

  static examples = ['<%= config.bin %> token revoke tok_3k9a', '<%= config.bin %> token revoke tok_3k9a -c prod --json']

  static args = {
    id: Args.string({description: 'Token id (see: lobu token list)', required: true}),
  }

  async run(): Promise<{id: string; revoked: true; forgotLocally: boolean}> {
    const ctx = await this.context()
    const client = await this.client()
    const {id} = this.args
    await client.delete(`/api/v1/tokens/${encodeURIComponent(id)}`)
    const stored = getStoredToken(ctx.origin)
    const forgotLocally = stored?.tokenId === id ? forgetToken(ctx.origin) : false
    if (!this.jsonEnabled()) {
      this.note(`Revoked token ${id}${forgotLocally ? ` and forgot it for ${ctx.origin}` : ''}`)
    }
    return {id, revoked: true, forgotLocally}
  }
}

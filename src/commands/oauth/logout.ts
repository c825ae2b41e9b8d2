import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import type {LogoutResult} from '../../lib/oauth/index.js'

export default class OAuthLogout extends GatewayCommand<typeof OAuthLogout> {
  static description = `Log out of a gateway: revoke the stored token there and forget it
The token is forgotten locally even when the gateway cannot be reached (with a warning). LOBU_TOKEN, if set, is not affected.`

  static examples = ['<%= config.bin %> oauth logout -c prod', '<%= config.bin %> oauth logout --json']

  async run(): Promise<LogoutResult> {
    const ctx = await this.context()
    const {logout} = await import('../../lib/oauth/index.js')
    const result = await logout({ctx, warn: (line) => this.note(line), userAgent: `lobu/${this.config.version} node/${process.version}`})
    if (!this.jsonEnabled()) {
      if (!result.forgot) this.note(`Not logged in to ${ctx.url} (context ${ctx.name}): nothing to do`)
      else this.note(`Logged out of ${ctx.url} (context ${ctx.name})${result.revoked ? `: token ${result.tokenId} revoked` : ''}`)
      if (process.env.LOBU_TOKEN) this.note('Note: LOBU_TOKEN is still set in this shell and is still sent')
    }
    return result
  }
}

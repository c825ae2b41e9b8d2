import {GatewayCommand} from '../lib/cli/gateway-command.js'
import type {WhoamiResponse} from '../lib/contract/api.js'
import {formatExpiry, formatTable} from '../lib/credentials/format.js'

export interface WhoamiResult extends WhoamiResponse {
  context: {name: string; url: string}
  tokenSource: 'env' | 'stored'
}

export default class Whoami extends GatewayCommand<typeof Whoami> {
  static description = 'Show the user, org, scopes and token expiry the gateway sees for this context'
  static examples = [
    '<%= config.bin %> whoami',
    '<%= config.bin %> whoami -c prod',
    '<%= config.bin %> whoami --json',
  ]

  async run(): Promise<WhoamiResult> {
    const ctx = await this.context()
    await this.guardProject()
    const client = await this.client()
    const me = await client.get<WhoamiResponse>('/api/v1/whoami')
    const result: WhoamiResult = {
      context: {name: ctx.name, url: ctx.url},
      user: me.user,
      org: me.org,
      token: me.token,
      tokenSource: client.tokenSource ?? 'stored',
    }
    if (!this.jsonEnabled()) {
      this.log(
        formatTable([
          ['Context:', `${ctx.name} (${ctx.url})`],
          ['User:', `${me.user.name} (${me.user.id})`],
          ['Org:', me.org.slug],
          ['Scopes:', me.token.scopes.join(' ') || '(none)'],
          ['Expires:', formatExpiry(me.token.expiresAt)],
          ['Token:', `${me.token.id} (${result.tokenSource === 'env' ? 'from LOBU_TOKEN' : 'stored in credentials.json'})`],
        ]),
      )
    }
    return result
  }
}

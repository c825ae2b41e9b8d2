import type {TokenView} from '../../lib/contract/api.js'
import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {formatDate, formatExpiry, formatTable} from '../../lib/credentials/format.js'
import {getStoredToken} from '../../lib/credentials/index.js'

/** A token as `GET /api/v1/tokens` shows it; `current` marks the token this CLI uses for the context. */
export type TokenInfo = TokenView

export default class TokenList extends GatewayCommand<typeof TokenList> {
  static description = 'List your tokens on the gateway (never the secret values)'
  static hiddenAliases = ['token:ls']
  static examples = ['<%= config.bin %> token list', '<%= config.bin %> token list -c prod --json']

  async run(): Promise<TokenInfo[]> {
    const ctx = await this.context()
    const client = await this.client()
    const res = await client.get<TokenView[]>('/api/v1/tokens')
    const mine = client.tokenSource === 'stored' ? getStoredToken(ctx.origin, process.env, ctx.name)?.tokenId : undefined
    const tokens = res.map((t) => ({...t, current: mine !== undefined && t.id === mine}))
    if (!this.jsonEnabled()) {
      if (tokens.length === 0) {
        this.note('No tokens.')
      } else {
        const rows = [['', 'ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED', 'EXPIRES']]
        for (const t of tokens) {
          rows.push([
            t.current ? '*' : '',
            t.id,
            t.name,
            t.scopes.join(' '),
            formatDate(t.createdAt),
            formatDate(t.lastUsedAt),
            formatExpiry(t.expiresAt),
          ])
        }
        this.log(formatTable(rows))
      }
    }
    return tokens
  }
}

import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {sharedFlags} from '../../lib/cli/base-command.js'
import {formatExpiry, formatTable} from '../../lib/credentials/format.js'
import type {Connection} from '../../lib/oauth/index.js'

export default class OAuthStatus extends GatewayCommand<typeof OAuthStatus> {
  static description = `List your connected accounts and keys: agent, id, kind, status, scopes, expiry
Never shows a token or key. A connection marked needs_reauth failed to refresh: run \`lobu oauth connect ID --agent A\` again.`

  static examples = ['<%= config.bin %> oauth status', '<%= config.bin %> oauth status --agent support -c prod --json']

  static flags = {
    agent: sharedFlags.agent(),
  }

  async run(): Promise<Connection[]> {
    const {listConnections} = await import('../../lib/oauth/index.js')
    const ctx = await this.context()
    const client = await this.client()
    const connections = await listConnections(client, this.flags.agent)
    if (!this.jsonEnabled()) {
      if (connections.length === 0) {
        this.note(`No connected accounts${this.flags.agent ? ` for agent ${this.flags.agent}` : ''} on ${ctx.url}`)
        this.note('Connect one with: lobu oauth connect ID --agent A')
      } else {
        const rows = [['AGENT', 'ID', 'KIND', 'STATUS', 'SCOPES', 'EXPIRES']]
        for (const c of connections) {
          rows.push([c.agentId, c.target, c.kind === 'provider' ? 'api key' : 'oauth', c.status, c.scopes.join(' ') || '-', c.kind === 'provider' ? '-' : formatExpiry(c.expiresAt)])
        }
        this.log(formatTable(rows))
      }
    }
    return connections
  }
}

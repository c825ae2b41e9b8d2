import {Args, Flags} from '@oclif/core'

import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {sharedFlags} from '../../lib/cli/base-command.js'
import {formatExpiry} from '../../lib/credentials/format.js'
import type {Connection} from '../../lib/oauth/index.js'

export default class OAuthConnect extends GatewayCommand<typeof OAuthConnect> {
  static description = `Connect your own account for an agent's MCP server, or your own provider key
For an MCP server with an oauth table (skills.mcp.ID.oauth in lobu.toml) the gateway starts an authorization-code + PKCE flow: open the printed URL, authorize, and the command returns once the gateway has stored the grant. It is yours only, for that agent, and refreshed by the gateway.
With --with-key, ID is a provider of the agent (e.g. openai) and your API key is read from stdin: it is used instead of the agent's key for your turns only.`

  static examples = [
    '<%= config.bin %> oauth connect docs --agent support',
    '<%= config.bin %> oauth connect docs --agent support --no-browser -c prod',
    'printf %s "$MY_OPENAI_KEY" | <%= config.bin %> oauth connect openai --with-key --agent support',
  ]

  static args = {
    id: Args.string({description: 'MCP server id (or provider id with --with-key)', required: true}),
  }

  static flags = {
    agent: sharedFlags.agent(),
    browser: Flags.boolean({description: 'Open the authorization URL in a browser on a desktop terminal', default: true, allowNo: true}),
    'with-key': Flags.boolean({description: 'Store your own API key for the provider ID (read from stdin)'}),
    timeout: Flags.integer({description: 'Seconds to wait for the authorization (default 600)', min: 1, max: 3600}),
  }

  async run(): Promise<Connection> {
    const oauth = await import('../../lib/oauth/index.js')
    const target = oauth.checkTarget(this.args.id)
    const ctx = await this.context()
    const agentId = await oauth.defaultAgent(ctx, this.flags.agent)
    const client = await this.client()

    let connection: Connection
    if (this.flags['with-key']) {
      const key = await oauth.readSecretInput({what: `${target} API key`, example: `printf %s "$KEY" | lobu oauth connect ${target} --with-key --agent ${agentId}`})
      connection = await oauth.connectKey(client, {agentId, providerId: target, key})
      if (!this.jsonEnabled()) this.note(`Stored your own ${target} key for agent ${agentId} (${ctx.url}): your turns use it instead of the agent's key`)
      return connection
    }
    connection = await oauth.connectAccount({
      client,
      agentId,
      target,
      browser: this.flags.browser,
      note: (line) => this.note(line),
      timeoutMs: this.flags.timeout === undefined ? undefined : this.flags.timeout * 1000,
    })
    if (!this.jsonEnabled()) {
      this.note(`Connected "${target}" for agent ${agentId} · scopes: ${connection.scopes.join(' ') || '-'} · expires: ${formatExpiry(connection.expiresAt)}`)
    }
    return connection
  }
}

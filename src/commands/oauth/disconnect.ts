import {Args} from '@oclif/core'

import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {sharedFlags} from '../../lib/cli/base-command.js'

export default class OAuthDisconnect extends GatewayCommand<typeof OAuthDisconnect> {
  static description = `Remove your connected account (or your own provider key) for an agent
The gateway forgets the grant; the agent falls back to its own configuration for your turns.`

  static examples = ['<%= config.bin %> oauth disconnect docs --agent support', '<%= config.bin %> oauth disconnect openai --agent support -c prod --json']

  static args = {
    id: Args.string({description: 'MCP server or provider id (or a connection id from `lobu oauth status --json`)', required: true}),
  }

  static flags = {
    agent: sharedFlags.agent(),
  }

  async run(): Promise<{agentId: string; removed: Array<{id: string; target: string; kind: string}>}> {
    const oauth = await import('../../lib/oauth/index.js')
    const ctx = await this.context()
    const agentId = await oauth.defaultAgent(ctx, this.flags.agent)
    const client = await this.client()
    const removed = await oauth.disconnect(client, agentId, this.args.id)
    if (!this.jsonEnabled()) this.note(`Disconnected "${this.args.id}" for agent ${agentId} (${ctx.url})`)
    return {agentId, removed: removed.map((c) => ({id: c.id, target: c.target, kind: c.kind}))}
  }
}

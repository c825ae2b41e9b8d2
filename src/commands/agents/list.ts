import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import type {AgentSummary} from '../../lib/contract/api.js'

export default class AgentsList extends GatewayCommand<typeof AgentsList> {
  static summary = 'List the agents of your organization on the gateway'
  static description = `One line per agent: id, name, providers (provider/model, in the order they are tried), MCP servers, the project that manages it (lobu apply) or "hand-made", last update. \`lobu agents show ID\` has the details.`
  static hiddenAliases = ['agents:ls']
  static examples = [
    {description: 'The agents on the local gateway', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'On another gateway, as JSON', command: '<%= config.bin %> <%= command.id %> -c prod --json'},
  ]

  async run(): Promise<AgentSummary[]> {
    const client = await this.client()
    const agents = await client.get<AgentSummary[]>('/api/v1/agents')
    if (!this.jsonEnabled()) {
      const ctx = await this.context()
      if (agents.length === 0) this.note(`No agents on ${ctx.name} (${ctx.url}): declare one in lobu.toml and run lobu apply`)
      else {
        const {renderAgentList} = await import('../../lib/agents/index.js')
        process.stdout.write(renderAgentList(agents))
      }
    }
    return agents
  }
}

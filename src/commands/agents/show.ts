import {Args} from '@oclif/core'

import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import type {AgentDetail} from '../../lib/contract/api.js'

export default class AgentsShow extends GatewayCommand<typeof AgentsShow> {
  static summary = 'Show one agent: providers and where their keys come from, MCP servers, tool rules'
  static description = `Never shows a key or an MCP header or env value: only where each comes from (an org secret, the gateway's environment). For the live status of each tool (read-only, granted, needs approval…) run \`lobu tools -a ID\`.`
  static examples = [
    {description: 'The agent "support" on the local gateway', command: '<%= config.bin %> <%= command.id %> support'},
    {description: 'As JSON, from another gateway', command: '<%= config.bin %> <%= command.id %> support -c prod --json'},
  ]

  static args = {
    id: Args.string({description: 'Agent id (see lobu agents list)', required: true}),
  }

  async run(): Promise<AgentDetail> {
    const client = await this.client()
    const {OperationError, isLobuError} = await import('../../lib/core/errors.js')
    const agent = await client.get<AgentDetail>(`/api/v1/agents/${encodeURIComponent(this.args.id)}`).catch((error: unknown) => {
      // The gateway answers the same 403 for a missing agent and another org's (no enumeration):
      // for the caller that is a missing agent, not a missing permission.
      if (isLobuError(error) && error.code === 'FORBIDDEN' && /does not exist/.test(error.message)) {
        throw new OperationError(`agent "${this.args.id}" does not exist on this gateway (or belongs to another organization)`, {code: 'AGENT_NOT_FOUND', hint: 'lobu agents list shows the agents you can see'})
      }
      throw error
    })
    if (!this.jsonEnabled()) {
      const {renderAgent} = await import('../../lib/agents/index.js')
      process.stdout.write(renderAgent(agent))
    }
    return agent
  }
}

import {sharedFlags} from '../../lib/cli/base-command.js'
import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {canDecorate, startSpinner, styles} from '../../lib/cli/terminal.js'
import type {AgentTools} from '../../lib/tools/index.js'

export default class Tools extends GatewayCommand<typeof Tools> {
  static summary = "List an agent's MCP servers and tools, with what each tool may do"
  static description = `Shows each MCP server of the agent (connected, or failed with its error) and each of its tools with its status for you:
  read-only        runs without asking (its server marks it read-only)
  pre-approved     runs without asking (tools.pre_approved in lobu.toml)
  granted until …  you allowed it in lobu chat (1 hour, 24 hours or always)
  needs approval   lobu chat asks first (denied without a terminal)
  denied           never offered to the model (tools.denied in lobu.toml)

The gateway connects your servers if needed. Drop grants with \`lobu tools revoke PATTERN\`.`

  static examples = [
    {description: "The tools of the project's first agent on the local gateway", command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Another agent on another gateway', command: '<%= config.bin %> <%= command.id %> -a support -c prod'},
    {description: 'As JSON, e.g. the tools that would ask', command: `<%= config.bin %> <%= command.id %> --json | jq -r '.servers[].tools[] | select(.status == "needs-approval") | .name'`},
  ]

  static flags = {
    agent: sharedFlags.agent(),
  }

  async run(): Promise<AgentTools> {
    const json = this.jsonEnabled()
    const [{listTools, renderTools}, {chooseAgent}] = await Promise.all([import('../../lib/tools/index.js'), import('../../lib/chat/run.js')])
    const ctx = await this.context()
    const project = ctx.name === 'local' ? await this.projectIfAny() : undefined
    const agentId = chooseAgent(this.flags.agent, ctx, project) ?? 'default'
    const client = await this.client()
    // The gateway may have to start the agent's servers first.
    const spinner = await startSpinner(`Listing the tools of ${agentId}…`, {json})
    let data: AgentTools
    try {
      data = await listTools(client, agentId)
    } finally {
      spinner.stop()
    }
    if (!json) {
      const chalk = canDecorate({json}) ? await styles({json}) : undefined
      const width = process.stdout.isTTY ? process.stdout.columns : undefined
      process.stdout.write(renderTools(data, {width, styles: chalk}))
    }
    return data
  }
}

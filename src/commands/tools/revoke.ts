import {Args} from '@oclif/core'

import {sharedFlags} from '../../lib/cli/base-command.js'
import {GatewayCommand} from '../../lib/cli/gateway-command.js'

export default class ToolsRevoke extends GatewayCommand<typeof ToolsRevoke> {
  static summary = 'Drop your grants for a tool (or every tool of a server)'
  static description = `Removes the grants you gave in lobu chat ("Allow for 1 hour", "for 24 hours", "Always") that match PATTERN, for this agent: the next call of such a tool asks again. Pre-approvals in lobu.toml are not grants: edit tools.pre_approved and run lobu apply.

PATTERN is /mcp/<server>/tools/<tool>, or /mcp/<server>/tools/* for every tool of the server.`

  static examples = [
    {description: 'One tool', command: '<%= config.bin %> <%= command.id %> /mcp/files/tools/write_file'},
    {description: 'Every tool of a server, for another agent', command: "<%= config.bin %> <%= command.id %> '/mcp/files/tools/*' -a support"},
  ]

  static args = {
    pattern: Args.string({description: '/mcp/<server>/tools/<tool> or /mcp/<server>/tools/*', required: true}),
  }

  static flags = {
    agent: sharedFlags.agent(),
  }

  async run(): Promise<{agentId: string; pattern: string; removed: number}> {
    const [{parseToolPattern, revokeGrants}, {chooseAgent}] = await Promise.all([import('../../lib/tools/index.js'), import('../../lib/chat/run.js')])
    parseToolPattern(this.args.pattern) // a bad pattern is exit 2 before anything is asked
    const ctx = await this.context()
    const project = ctx.name === 'local' ? await this.projectIfAny() : undefined
    const agentId = chooseAgent(this.flags.agent, ctx, project) ?? 'default'
    const result = await revokeGrants(await this.client(), agentId, this.args.pattern)
    if (!this.jsonEnabled()) {
      const what = `${result.pattern} (agent ${agentId})`
      this.note(result.removed === 0 ? `No grant matches ${what}` : `Removed ${result.removed} grant${result.removed === 1 ? '' : 's'} matching ${what}`)
    }
    return result
  }
}

import {Flags} from '@oclif/core'

import {GatewayCommand} from '../../../lib/cli/gateway-command.js'
import {checkOrgSlug, membersPath, membersTable, type Member} from '../../../lib/org/members.js'

export default class OrgMembersList extends GatewayCommand<typeof OrgMembersList> {
  static description = `List the members of your organization and their roles (owners; the admin with --org)`

  static examples = ['<%= config.bin %> org members list', '<%= config.bin %> org members list --org acme -c team --json']

  static flags = {
    org: Flags.string({description: 'Another organization by slug (needs the admin scope)'}),
  }

  async run(): Promise<{org: string; members: Member[]}> {
    const org = checkOrgSlug(this.flags.org)
    const client = await this.client()
    const res = await client.get<{org: string; members: Member[]}>(membersPath(org))
    if (!this.jsonEnabled()) {
      if (res.members.length === 0) this.note(`No members in ${res.org}.`)
      else this.log(membersTable(res.members))
    }
    return res
  }
}

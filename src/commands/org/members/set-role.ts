import {Args, Flags} from '@oclif/core'

import {GatewayCommand} from '../../../lib/cli/gateway-command.js'
import {ROLES, checkMemberRef, checkOrgSlug, checkRole, membersPath, type Member} from '../../../lib/org/members.js'

export default class OrgMembersSetRole extends GatewayCommand<typeof OrgMembersSetRole> {
  static description = `Change a member's role (owners; the admin with --org)
Takes effect on the member's next request. An organization keeps at least one owner.`

  static examples = ['<%= config.bin %> org members set-role grace@acme.test owner', '<%= config.bin %> org members set-role usr_8f2k member --org acme -c team']

  static args = {
    member: Args.string({description: 'Email or user id of the member', required: true}),
    role: Args.string({description: 'The new role', required: true, options: [...ROLES]}),
  }

  static flags = {
    org: Flags.string({description: 'Another organization by slug (needs the admin scope)'}),
  }

  async run(): Promise<Member> {
    const ref = checkMemberRef(this.args.member)
    const role = checkRole(this.args.role)
    const org = checkOrgSlug(this.flags.org)
    const client = await this.client()
    const member = await client.put<Member>(membersPath(org, ref), {role})
    if (!this.jsonEnabled()) this.note(`${member.email ?? member.userId} is now ${member.role === 'owner' ? 'an owner' : 'a member'}`)
    return member
  }
}

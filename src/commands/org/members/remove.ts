import {Args, Flags} from '@oclif/core'

import {UsageError} from '../../../lib/core/errors.js'
import {GatewayCommand} from '../../../lib/cli/gateway-command.js'
import {canPrompt} from '../../../lib/cli/terminal.js'
import {checkMemberRef, checkOrgSlug, membersPath} from '../../../lib/org/members.js'

export default class OrgMembersRemove extends GatewayCommand<typeof OrgMembersRemove> {
  static description = `Remove a member from your organization (owners; the admin with --org)
Their tokens for this organization stop working at once. Asks first on a terminal; --yes otherwise.`

  static examples = ['<%= config.bin %> org members remove grace@acme.test', '<%= config.bin %> org members remove usr_8f2k --org acme -c team --yes --json']

  static args = {
    member: Args.string({description: 'Email or user id of the member', required: true}),
  }

  static flags = {
    org: Flags.string({description: 'Another organization by slug (needs the admin scope)'}),
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation'}),
  }

  async run(): Promise<{userId: string; removed: boolean}> {
    const ref = checkMemberRef(this.args.member)
    const org = checkOrgSlug(this.flags.org)
    if (!this.flags.yes) {
      if (!canPrompt({json: this.jsonEnabled()})) {
        throw new UsageError('refusing to remove a member without --yes in non-interactive mode', {hint: `lobu org members remove ${ref} --yes`})
      }
      const {confirmOnTerminal} = await import('../../../lib/apply/prompt.js')
      if (!(await confirmOnTerminal(`Remove ${ref} from ${org ?? 'your organization'}? Their tokens stop working.`))) {
        this.note('Nothing removed.')
        return {userId: ref, removed: false}
      }
    }
    const client = await this.client()
    const res = await client.delete<{userId: string; removed: true}>(membersPath(org, ref))
    if (!this.jsonEnabled()) this.note(`Removed ${ref}`)
    return res
  }
}

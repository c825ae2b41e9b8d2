import {Args, Flags} from '@oclif/core'

import type {CreateOrgRequest, CreatedOrg} from '../../lib/contract/api.js'
import {UsageError} from '../../lib/core/errors.js'
import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {passwordFromStdin} from '../../lib/org/members.js'


export default class OrgCreate extends GatewayCommand<typeof OrgCreate> {
  static description = `Create an organization, its owner and a token for the owner (admin)
Needs a token with the admin scope (the local user of lobu run has it). The owner's password, used only by the device-login page, is read from stdin when piped, never from a flag. The owner's token is printed once, on stdout.`

  static examples = [
    '<%= config.bin %> org create acme --owner-email ada@acme.test --owner-name "Ada Lovelace"',
    'printf %s "$OWNER_PASSWORD" | <%= config.bin %> org create acme --owner-email ada@acme.test -c team --json',
  ]

  static args = {
    slug: Args.string({description: 'Org slug (lowercase letters, digits and "-")', required: true}),
  }

  static flags = {
    name: Flags.string({description: 'Display name of the org (default: the slug)'}),
    'owner-email': Flags.string({description: "Owner's email", required: true}),
    'owner-name': Flags.string({description: "Owner's name (default: the email's local part)"}),
    'password-stdin': Flags.boolean({description: "Read the owner's password from stdin (also done when stdin is a pipe)"}),
  }

  async run(): Promise<CreatedOrg> {
    const {slug} = this.args
    const email = this.flags['owner-email'].trim()
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
      throw new UsageError(`invalid --owner-email "${email}"`, {code: 'INVALID_EMAIL', hint: 'Give an address like ada@acme.test'})
    }
    const password = await passwordFromStdin(this.flags['password-stdin'], 'printf %s "$PW" | lobu org create …')
    const owner: CreateOrgRequest['owner'] = {email, name: this.flags['owner-name'] ?? email.split('@')[0]!}
    if (password !== undefined) owner.password = password

    const client = await this.client()
    const request: CreateOrgRequest = {slug, name: this.flags.name ?? slug, owner}
    const created = await client.post<CreatedOrg>('/api/v1/admin/orgs', request)
    if (!this.jsonEnabled()) {
      this.note(`Created org ${created.org.slug} (${created.org.id}) with owner ${created.user.email ?? email}`)
      this.log(created.token.token)
      this.note("The owner's token is shown once: hand it over safely (they use it as LOBU_TOKEN or with lobu oauth login --with-token).")
    }
    return created
  }
}

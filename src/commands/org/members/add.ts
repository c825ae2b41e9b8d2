import {Args, Flags} from '@oclif/core'

import {GatewayCommand} from '../../../lib/cli/gateway-command.js'
import {ROLES, checkEmail, checkOrgSlug, checkRole, membersPath, passwordFromStdin, type Role} from '../../../lib/org/members.js'

interface Added {
  org: {slug: string}
  user: {id: string; email: string | null; name: string}
  role: Role
}

export default class OrgMembersAdd extends GatewayCommand<typeof OrgMembersAdd> {
  static description = `Add a person to your organization, or change the role of one already in it (owners; the admin with --org)
The person logs in with \`lobu oauth login\` (device login with email and password). A new account's password is read from stdin when piped, never from a flag; an existing account keeps its password.`

  static examples = [
    '<%= config.bin %> org members add grace@acme.test',
    'printf %s "$PW" | <%= config.bin %> org members add grace@acme.test --name "Grace Hopper" --role owner',
    '<%= config.bin %> org members add grace@acme.test --org acme -c team --json',
  ]

  static args = {
    email: Args.string({description: "The person's email", required: true}),
  }

  static flags = {
    role: Flags.string({description: 'Role in the organization', options: [...ROLES], default: 'member'}),
    name: Flags.string({description: "Display name (default: the email's local part)"}),
    org: Flags.string({description: 'Another organization by slug (needs the admin scope)'}),
    'password-stdin': Flags.boolean({description: "Read a new account's password from stdin (also done when stdin is a pipe)"}),
  }

  async run(): Promise<Added> {
    const email = checkEmail(this.args.email)
    const role = checkRole(this.flags.role)
    const org = checkOrgSlug(this.flags.org)
    const password = await passwordFromStdin(this.flags['password-stdin'], `printf %s "$PW" | lobu org members add ${email}`)
    const body: Record<string, string> = {email, name: this.flags.name ?? email.split('@')[0]!, role}
    if (password !== undefined) body.password = password
    const client = await this.client()
    const added = await client.post<Added>(membersPath(org), body)
    if (!this.jsonEnabled()) this.note(`${added.user.email ?? email} is ${added.role === 'owner' ? 'an owner' : 'a member'} of ${added.org.slug}`)
    return added
  }
}

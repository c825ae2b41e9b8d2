import {BaseCommand, sharedFlags} from '../../lib/cli/base-command.js'
import type {AuthStatusEntry} from '../../lib/credentials/status.js'

export default class AuthStatus extends BaseCommand<typeof AuthStatus> {
  static description = `Show every context: its gateway, the account it uses, scopes, expiry, and whether the gateway answers
Several accounts may be stored for one gateway (the local admin account of \`lobu run\`, logins, saved tokens); each context uses one of them: switch with \`lobu auth switch\`.`

  static examples = ['<%= config.bin %> auth status', '<%= config.bin %> auth status --json']

  static flags = {context: sharedFlags.context()}

  async run(): Promise<AuthStatusEntry[]> {
    const [{authStatus}, {localProjectHere}, {formatExpiry}] = await Promise.all([
      import('../../lib/credentials/status.js'),
      import('../../lib/cli/gateway-command.js'),
      import('../../lib/credentials/format.js'),
    ])
    const entries = await authStatus({project: await localProjectHere(), flag: this.flags.context})
    if (!this.jsonEnabled()) {
      const lines: string[] = []
      for (const e of entries) {
        lines.push(`${e.selected ? '*' : ' '} ${e.context}  ${e.url}${e.project ? `  (project ${e.project})` : ''}`)
        lines.push(`    account:   ${e.account ? `${e.account.name}${e.account.kind === 'local-admin' ? ' (local admin)' : e.account.kind === 'env' ? ' (from the environment)' : ''}` : 'none'}`)
        if (e.account && e.account.kind !== 'env') {
          lines.push(`    scopes:    ${e.account.scopes.join(' ') || '(none)'}`)
          lines.push(`    expires:   ${formatExpiry(e.account.expiresAt)}`)
        }
        if (e.others.length > 0) lines.push(`    also:      ${e.others.join(', ')}  (lobu auth switch -c ${e.context} ACCOUNT)`)
        lines.push(`    reachable: ${e.reachable ? 'yes' : `no (${e.reason ?? 'no answer'})`}`)
      }
      this.log(lines.join('\n'))
    }
    return entries
  }
}

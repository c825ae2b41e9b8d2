import {Args} from '@oclif/core'

import {sharedFlags} from '../../lib/cli/base-command.js'
import {UsageError} from '../../lib/core/errors.js'
import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {canPrompt} from '../../lib/cli/terminal.js'

export default class TokenRevoke extends GatewayCommand<typeof TokenRevoke> {
  static description = `Revoke one of your tokens on the gateway
If it is the token this context uses, revoking it logs this CLI out of the gateway: you are asked first on a terminal, and --yes is needed otherwise. A stored account with that token is forgotten locally too.`

  static examples = ['<%= config.bin %> token revoke tok_3k9a', '<%= config.bin %> token revoke tok_3k9a -c prod --json', '<%= config.bin %> token revoke tok_current --yes']

  static args = {
    id: Args.string({description: 'Token id (see: lobu token list)', required: true}),
  }

  static flags = {yes: sharedFlags.yes()}

  async run(): Promise<{id: string; revoked: true; forgotLocally: boolean}> {
    const ctx = await this.context()
    const client = await this.client()
    const {id} = this.args
    const {forgetAccount, getStoredToken} = await import('../../lib/credentials/index.js')
    const stored = getStoredToken(ctx.origin, process.env, ctx.name)
    const inUse = client.tokenSource === 'env' ? (await client.get<{token?: {id?: string}}>('/api/v1/whoami')).token?.id === id : stored?.tokenId === id
    if (inUse && !this.flags.yes) {
      const what = `${id} is the token this CLI uses for context "${ctx.name}": revoking it logs you out of ${ctx.url}`
      const next = stored?.kind === 'local-admin' ? 'restart `lobu run` to mint a new one' : `log in again with \`lobu oauth login -c ${ctx.name}\``
      if (!canPrompt({json: this.jsonEnabled()})) {
        throw new UsageError(what, {code: 'CONFIRMATION_REQUIRED', hint: `Add --yes to revoke it anyway (then ${next})`})
      }
      const {confirmOnTerminal} = await import('../../lib/apply/prompt.js')
      if (!(await confirmOnTerminal(`${what}. Revoke it?`))) {
        throw new UsageError('nothing was revoked', {code: 'CANCELLED'})
      }
    }
    await client.delete(`/api/v1/tokens/${encodeURIComponent(id)}`)
    const forgotLocally = stored?.tokenId === id ? forgetAccount(ctx.origin, stored) : false
    if (!this.jsonEnabled()) {
      this.note(`Revoked token ${id}${forgotLocally ? ` and forgot it for ${ctx.origin}` : ''}`)
      if (inUse) this.note(stored?.kind === 'local-admin' ? 'Restart `lobu run` to mint a new local admin token' : `Log in again with: lobu oauth login -c ${ctx.name}`)
    }
    return {id, revoked: true, forgotLocally}
  }
}

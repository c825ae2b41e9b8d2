import {Args} from '@oclif/core'

import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import type {SecretView} from '../../lib/contract/api.js'

export default class SecretsSet extends GatewayCommand<typeof SecretsSet> {
  static summary = 'Create or replace an org secret; the value is read from stdin'
  static description = `The value is read from stdin (piped, or typed at a masked prompt on a terminal), never from a flag: flags end up in shell history and in \`ps\`. Surrounding whitespace is dropped. Agents that refer to it (secret_ref = "NAME" in lobu.toml) use the new value from their next turn.`
  static examples = [
    {description: 'From another command', command: 'gh auth token | <%= config.bin %> <%= command.id %> GITHUB_TOKEN'},
    {description: 'From a file, on another gateway', command: '<%= config.bin %> <%= command.id %> SMTP_PASSWORD -c prod < smtp-password.txt'},
    {description: 'Typed at a masked prompt', command: '<%= config.bin %> <%= command.id %> OPENROUTER_API_KEY'},
  ]

  static args = {
    name: Args.string({description: 'Secret name: letters, digits and _ (e.g. GITHUB_TOKEN)', required: true}),
  }

  async run(): Promise<SecretView & {created: boolean}> {
    const {checkSecretName} = await import('../../lib/secrets/index.js')
    const name = checkSecretName(this.args.name)
    const {readSecretInput} = await import('../../lib/oauth/input.js')
    const value = await readSecretInput({what: `value of ${name}`, example: `printf %s "$VALUE" | lobu secrets set ${name}`})
    if (!value) {
      const {UsageError} = await import('../../lib/core/errors.js')
      throw new UsageError('the value is empty: nothing was stored', {code: 'EMPTY_SECRET', hint: `printf %s "$VALUE" | lobu secrets set ${name}`})
    }
    const client = await this.client()
    const ctx = await this.context()
    const res = await client.put<SecretView & {created: boolean}>(`/api/v1/secrets/${encodeURIComponent(name)}`, {value})
    if (!this.jsonEnabled()) {
      const users = res.usedBy.length > 0 ? `; used by ${res.usedBy.join(', ')}` : '; no agent refers to it yet (secret_ref in lobu.toml)'
      this.note(`${res.created ? 'Created' : 'Updated'} secret ${name} on ${ctx.name}${users}`)
    }
    return res
  }
}

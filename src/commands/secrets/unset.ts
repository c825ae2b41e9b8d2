import {Args} from '@oclif/core'

import {sharedFlags} from '../../lib/cli/base-command.js'
import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import type {SecretView} from '../../lib/contract/api.js'

export default class SecretsUnset extends GatewayCommand<typeof SecretsUnset> {
  static summary = 'Delete an org secret'
  static description = 'Asks first on a terminal (it names the agents that use it); elsewhere it needs --yes. Agents that still refer to it fail to find their key until it is set again.'
  static hiddenAliases = ['secrets:rm']
  static examples = [
    {description: 'Delete a secret (asks first)', command: '<%= config.bin %> <%= command.id %> GITHUB_TOKEN'},
    {description: 'In a script', command: '<%= config.bin %> <%= command.id %> GITHUB_TOKEN --yes'},
  ]

  static args = {
    name: Args.string({description: 'Secret name (see lobu secrets list)', required: true}),
  }

  static flags = {
    yes: sharedFlags.yes(),
  }

  async run(): Promise<{name: string; removed: true}> {
    const {checkSecretName} = await import('../../lib/secrets/index.js')
    const name = checkSecretName(this.args.name)
    const client = await this.client()
    const ctx = await this.context()
    if (!this.flags.yes) {
      const {canPrompt} = await import('../../lib/cli/terminal.js')
      const {UsageError} = await import('../../lib/core/errors.js')
      if (!canPrompt({json: this.jsonEnabled()})) {
        throw new UsageError(`deleting secret ${name} needs confirmation`, {code: 'CONFIRMATION_REQUIRED', hint: `lobu secrets unset ${name} --yes`})
      }
      const listed = await client.get<SecretView[]>('/api/v1/secrets')
      const users = listed.find((s) => s.name === name)?.usedBy ?? []
      const {confirm} = await import('@inquirer/prompts')
      const ok = await confirm(
        {message: `Delete secret ${name} on ${ctx.name}${users.length > 0 ? ` (used by ${users.join(', ')})` : ''}?`, default: false},
        {output: process.stderr},
      )
      if (!ok) throw new UsageError('nothing deleted', {code: 'CANCELLED'})
    }
    const res = await client.delete<{name: string; removed: true}>(`/api/v1/secrets/${encodeURIComponent(name)}`)
    if (!this.jsonEnabled()) this.note(`Deleted secret ${name} on ${ctx.name}`)
    return res
  }
}

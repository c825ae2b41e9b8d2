import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import type {SecretView} from '../../lib/contract/api.js'

export default class SecretsList extends GatewayCommand<typeof SecretsList> {
  static summary = 'List the org secrets (names and the agents using them, never the values)'
  static description = 'Org secrets are what `secret_ref = "NAME"` in lobu.toml refers to; `lobu apply` also stores the provider keys it reads from the environment as secrets.'
  static hiddenAliases = ['secrets:ls']
  static examples = [
    {description: 'The secrets of your organization', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'As JSON, on another gateway', command: '<%= config.bin %> <%= command.id %> -c prod --json'},
  ]

  async run(): Promise<SecretView[]> {
    const client = await this.client()
    const secrets = await client.get<SecretView[]>('/api/v1/secrets')
    if (!this.jsonEnabled()) {
      if (secrets.length === 0) this.note('No secrets. Set one with: printf %s "$VALUE" | lobu secrets set NAME')
      else {
        const {renderSecretList} = await import('../../lib/secrets/index.js')
        process.stdout.write(renderSecretList(secrets))
      }
    }
    return secrets
  }
}

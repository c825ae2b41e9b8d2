import {Flags} from '@oclif/core'

import type {CreateTokenRequest, CreatedToken, WhoamiResponse} from '../../lib/contract/api.js'
import {UsageError} from '../../lib/core/errors.js'
import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {listContexts, setContext, validateContextName} from '../../lib/context/index.js'
import {formatExpiry} from '../../lib/credentials/format.js'
import {
  DEFAULT_EXPIRES_IN,
  DEFAULT_TOKEN_SCOPES,
  SCOPES,
  defaultTokenName,
  parseExpiresIn,
  parseScopes,
  saveToken,
} from '../../lib/credentials/index.js'


export default class TokenCreate extends GatewayCommand<typeof TokenCreate> {
  static description = `Mint a personal access token on the context's gateway
The token is printed once, on stdout. Use it as LOBU_TOKEN (CI, another machine), or store it for a context with --save-as. Needs a token with the tokens:write scope; a token can only grant scopes it holds.`

  static examples = [
    '<%= config.bin %> token create',
    '<%= config.bin %> token create --name ci --scope chat --expires-in 30d',
    '<%= config.bin %> token create --scope agents:read --scope chat --expires-in never --json',
    'LOBU_TOKEN=$ADMIN_TOKEN <%= config.bin %> token create -c prod --scope chat --save-as prod',
  ]

  static flags = {
    name: Flags.string({description: 'Token name (default: cli-<hostname>-<date>)'}),
    scope: Flags.string({
      description: `Scope to grant (repeatable; default: ${DEFAULT_TOKEN_SCOPES.join(' ')}). One of: ${SCOPES.join(', ')}`,
      multiple: true,
    }),
    'expires-in': Flags.string({description: 'Lifetime: <N>d, <N>h or never', default: DEFAULT_EXPIRES_IN}),
    'save-as': Flags.string({description: "Store the token in credentials.json for this context (created if missing, pointing at this gateway); it replaces the token stored for this gateway's origin"}),
  }

  async run(): Promise<CreatedToken & {savedAs?: string}> {
    // Validate everything before any request (exit 2, nothing sent).
    const scopes = this.flags.scope ? parseScopes(this.flags.scope) : [...DEFAULT_TOKEN_SCOPES]
    const {expiresIn} = parseExpiresIn(this.flags['expires-in'])
    const name = this.flags.name?.trim() || defaultTokenName()
    const ctx = await this.context()
    const saveAs = this.flags['save-as']
    let saveAsExists = false
    if (saveAs !== undefined) {
      validateContextName(saveAs)
      const target = listContexts().find((c) => c.name === saveAs)
      saveAsExists = target !== undefined
      if (target && new URL(target.url).origin !== ctx.origin) {
        throw new UsageError(`context "${saveAs}" points at ${target.url}, not at ${ctx.origin} where the token is created`, {
          code: 'ORIGIN_MISMATCH',
          hint: `A token only works on the gateway that issued it: create it there with -c ${saveAs}`,
        })
      }
    }

    const client = await this.client()
    const request: CreateTokenRequest = {name, scopes, expiresIn}
    const created = await client.post<CreatedToken>('/api/v1/tokens', request)

    if (saveAs !== undefined) {
      const {ApiClient} = await import('../../lib/client/index.js')
      const own = new ApiClient({baseUrl: ctx.url, token: created.token, tokenOrigin: ctx.origin, contextName: saveAs})
      const me = await own
        .get<WhoamiResponse>('/api/v1/whoami')
        .catch(() => undefined)
      if (!saveAsExists) setContext(saveAs, ctx.url)
      saveToken(ctx.origin, {
        token: created.token,
        tokenId: created.id,
        org: me?.org.slug ?? '',
        user: me?.user.name ?? '',
        scopes: created.scopes,
        expiresAt: created.expiresAt,
      }, process.env, {kind: 'token', activate: saveAs})
    }

    if (!this.jsonEnabled()) {
      this.log(created.token)
      this.note(
        `Created token ${created.name} (${created.id}) · scopes: ${created.scopes.join(' ')} · expires: ${formatExpiry(created.expiresAt)}`,
      )
      if (saveAs === undefined) this.note('Copy it now: it is not shown again.')
      else this.note(`Saved for context ${saveAs} (${ctx.origin})${saveAsExists ? '' : ', a new context'}`)
      if (saveAs !== undefined && process.env.LOBU_TOKEN) this.note('Note: LOBU_TOKEN is set and wins over the stored token in this shell')
    }
    return saveAs === undefined ? created : {...created, savedAs: saveAs}
  }
}

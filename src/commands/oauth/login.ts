import {Flags} from '@oclif/core'

import {UsageError} from '../../lib/core/errors.js'
import {GatewayCommand} from '../../lib/cli/gateway-command.js'
import {formatExpiry} from '../../lib/credentials/format.js'
import type {LoginResult} from '../../lib/oauth/index.js'

export default class OAuthLogin extends GatewayCommand<typeof OAuthLogin> {
  static description = `Log the CLI into a gateway (OAuth 2.0 device authorization grant)
Prints a one-time code and a URL (stderr); approve it in a browser with your email and password, or from another logged-in machine with \`lobu oauth approve CODE\`. The token is stored for the gateway's origin in credentials.json. With --url the context is created or updated. --with-token reads a token from stdin instead (CI). Refused while LOBU_TOKEN is set.`

  static examples = [
    '<%= config.bin %> oauth login -c prod --url https://lobu.example.com',
    '<%= config.bin %> oauth login -c prod --no-browser',
    '<%= config.bin %> oauth login -c prod --scope chat --scope agents:read',
    'echo "$LOBU_CI_TOKEN" | <%= config.bin %> oauth login -c prod --url https://lobu.example.com --with-token',
  ]

  static flags = {
    url: Flags.string({description: 'Gateway URL; creates or updates the context named by -c (default name: the host)'}),
    browser: Flags.boolean({description: 'Open the approval page in a browser on a desktop terminal', default: true, allowNo: true}),
    'with-token': Flags.boolean({description: 'Read a token from stdin instead of the device flow (verified with whoami)'}),
    scope: Flags.string({description: 'Scope to ask for (repeatable; default: every scope but admin and connections:token)', multiple: true}),
  }

  async run(): Promise<LoginResult> {
    const oauth = await import('../../lib/oauth/index.js')
    oauth.refuseWhileEnvToken()
    if (this.flags['with-token'] && this.flags.scope) {
      throw new UsageError('--scope does not apply to --with-token: the token keeps the scopes it was created with', {code: 'USAGE', hint: 'Drop --scope, or create the token with them: lobu token create --scope S'})
    }
    const scopes = this.flags.scope ? (await import('../../lib/credentials/index.js')).parseScopes(this.flags.scope) : undefined
    const target = this.flags.url
      ? oauth.loginTargetForUrl(this.flags.url, (this.flags as {context?: string}).context)
      : oauth.loginTargetForContext(await this.context())
    const userAgent = `lobu/${this.config.version} node/${process.version}`

    let result: LoginResult
    if (this.flags['with-token']) {
      const token = await oauth.readSecretInput({what: 'token', example: 'lobu oauth login --with-token < token.txt'})
      result = await oauth.tokenLogin({target, token, userAgent})
    } else {
      result = await oauth.deviceLogin({target, scopes, browser: this.flags.browser, note: (line) => this.note(line), userAgent})
    }

    if (!this.jsonEnabled()) {
      this.note(`Logged in to ${result.url} as ${result.user || '?'} (org ${result.org || '?'}) · context ${result.context}`)
      this.note(`Scopes: ${result.scopes.join(' ') || '(none)'} · expires: ${formatExpiry(result.expiresAt)}`)
      const {currentContextName} = await import('../../lib/context/index.js')
      if (currentContextName() !== result.context && !process.env.LOBU_CONTEXT) this.note(`Use it with -c ${result.context}, or make it the default: lobu context use ${result.context}`)
    }
    return result
  }
}

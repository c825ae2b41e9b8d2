/** Stored gateway tokens (credentials.json) and token scopes. See docs/SECURITY.md S2, S3. */
export {
  accountName,
  activeAccount,
  credentialsPath,
  forgetAccount,
  forgetToken,
  getLocalAdmin,
  getStoredToken,
  listAccounts,
  originOf,
  saveToken,
  switchAccount,
  tokenForContext,
} from './store.js'
export type {AccountKind, ContextToken, OriginAccounts, SaveOptions, StoredAccount, StoredToken} from './store.js'
export {DEFAULT_TOKEN_SCOPES, SCOPES, isScope, parseScopes} from './scopes.js'
export type {Scope} from './scopes.js'
export {DEFAULT_EXPIRES_IN, defaultTokenName, parseExpiresIn} from './token-request.js'

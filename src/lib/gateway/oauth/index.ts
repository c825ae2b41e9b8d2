/**
 * OAuth on the gateway: device login (RFC 8628), account connections (authorization code +
 * PKCE) with refresh, users' own provider keys (BYOK) and managed connection tokens.
 */
export {createOAuthRoutes, oauthRoutes, type OAuthRoutesOptions} from './routes.js'
export {
  DEVICE_DEFAULT_SCOPES,
  DEVICE_GRANT_TYPE,
  DeviceService,
  OAuthProtocolError,
  type DeviceCodeResponse,
  type TokenResponse,
} from './device.js'
export {
  GrantService,
  GrantUnavailableError,
  findUserProviderKey,
  type ConnectionView,
  type ConnectStart,
  type UserProviderKey,
} from './grants.js'
export {normalizeUserCode, pkceChallenge} from './codes.js'

/**
 * The CLI side of `lobu oauth`: device login, token login, logout, approve, and account
 * connections. Import lazily from commands (it pulls in the API client).
 */
export {canOpenBrowser, openBrowser} from './browser.js'
export {CLI_CLIENT_ID, DEVICE_GRANT_TYPE, pollForToken, postForm, requestDeviceCode, type DeviceCode, type DeviceToken, type PostForm} from './device.js'
export {
  contextNameForUrl,
  deviceLogin,
  loginTargetForContext,
  loginTargetForUrl,
  logout,
  refuseWhileEnvToken,
  tokenLogin,
  type LoginResult,
  type LoginTarget,
  type LogoutResult,
} from './login.js'
export {checkTarget, connectAccount, connectKey, disconnect, listConnections, type Connection} from './connections.js'
export {defaultAgent, readSecretInput, normalizeUserCodeInput} from './input.js'

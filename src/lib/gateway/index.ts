/**
 * The embedded gateway's public surface. Heavy (hono, the store): commands import it lazily
 * inside run().
 */
export {PortInUseError, startGateway, type GatewayOptions, type RunningGateway} from './server.js'
export {buildApp, MAX_BODY_BYTES, type BuildAppOptions} from './http/app.js'
export {coreRoutes} from './http/routes/index.js'
export {requireScope} from './http/auth.js'
export {HttpError, errorBody, type ErrorBody} from './http/errors.js'
export {jsonBody, param, parseWith, readJson} from './http/validate.js'
export type {App, AppEnv, Lifecycle, LogLevel, Logger, RouteModule, Services} from './http/types.js'
export type {AuthContext} from './auth/authenticate.js'
export {DEFAULT_SCOPES, OWNER_SCOPES, SCOPES, type Scope} from './auth/scopes.js'
export {LOCAL_CLI_TOKEN_NAME, LOCAL_ORG_SLUG, bootstrap, ensureLocalCliToken, type LocalCliToken} from './bootstrap/index.js'
export {DEFAULT_AGENT_ID, computeSystemProviders} from './agents/system-providers.js'
export {DataDirLockedError} from './store/lock.js'
export type {Store} from './store/types.js'

/** Contexts (named gateway URLs), the config dir and per-context state. See README, "Contexts and tokens". */
export {configDir, ensureConfigDir, writeFileAtomic} from './files.js'
export type {Env} from './files.js'
export {
  LOCAL_CONTEXT,
  addContext,
  builtinLocalUrl,
  currentContextName,
  listContexts,
  normalizeGatewayUrl,
  removeContext,
  resolveContext,
  setContext,
  useContext,
  validateContextName,
} from './contexts.js'
export type {ContextInfo, ContextOptions, ContextSource, LocalProject, RemovedContext, ResolvedContext} from './contexts.js'
export {pidAlive, projectGatewayPath, readProjectGateway, removeProjectGateway, writeProjectGateway} from './project-gateway.js'
export type {ProjectGateway} from './project-gateway.js'
export {checkState, forgetContextState, getLastThread, setLastThread} from './state.js'

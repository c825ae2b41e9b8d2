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
export type {ContextInfo, ContextOptions, ContextSource, RemovedContext, ResolvedContext} from './contexts.js'
export {checkState, forgetContextState, getLastThread, setLastThread} from './state.js'

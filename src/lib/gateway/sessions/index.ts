/**
 * Sessions and chat: the session routes, their service, the agent turn and the SSE log.
 */
export {sessionRoutes} from './routes.js'
export {SessionService, sessionNotAccessible, type SessionServiceOptions} from './service.js'
export {TurnAbort, runAgentTurn, turnTimeoutMs, type TurnEnvironment, type TurnErrorInfo, type TurnOutcome, type TurnRequest, type TurnSink} from './turn.js'
export {noModelConfigured, resolveCredentials, systemKeyVariables, userGrantFor, type ChosenProvider, type GrantFinder, type UserGrant} from './credentials.js'
export {normalizeConversation, systemPrompt} from './prompt.js'
export {SSE_HEADERS, formatEvent, sseResponse, type SseFrame, type SseSink} from './sse.js'
export {THREAD_PATTERN, SESSION_KEY_PATTERN} from './schema.js'

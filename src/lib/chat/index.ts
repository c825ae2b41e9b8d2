/** `lobu chat`: logic behind src/commands/chat.ts. Heavy: import lazily from the command. */
export {readPrompt, type PromptSource} from './prompt.js'
export {ChatInterrupted, followTurn, idleTimeoutError, type ChatEvent, type FollowOptions} from './stream.js'
export {humanRenderer, jsonRenderer, type Output, type Renderer, type Spinner} from './render.js'
export {ensureLocalGateway, probeHealth, type EnsuredGateway, type LocalGatewayOptions} from './gateway.js'
export {chooseAgent, errorFromEvent, markReported, newThreadId, runChat, type ChatOptions, type ChatResult} from './run.js'

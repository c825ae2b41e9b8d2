/** The OpenAI-compatible endpoint (`/v1/models`, `/v1/chat/completions`). */
export {OpenAIHttpError, openaiCompatRoutes} from './routes.js'
export {chatRequestSchema, finishReasonOf, openaiError, statusOfTurnError, toConversation, toOpenAIError, unsupportedParameter, usageOf, type ChatRequest, type Conversation} from './format.js'

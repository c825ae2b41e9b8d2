/** Plan and apply on the gateway: the service, its route module and the request validation. */
export {ApplyService, type ApplyServiceOptions, type SecretCodec, computeChanges, fingerprintOf, summarize} from './service.js'
export {InvalidRequestError, applyRoutes, createApplyRoutes, secretCodec} from './routes.js'
export {parseApplyRequest, parsePlanRequest} from './schema.js'

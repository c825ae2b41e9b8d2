/**
 * The route modules every gateway mounts, in order. A feature adds its module here.
 */
import {applyRoutes} from '../../apply/routes.js'
import {oauthRoutes} from '../../oauth/routes.js'
import {openaiCompatRoutes} from '../../openai-compat/routes.js'
import {sessionRoutes} from '../../sessions/routes.js'
import {capRoutes} from '../caps.js'
import {toolRoutes} from '../../tools/routes.js'
import type {RouteModule} from '../types.js'
import {agentRoutes} from './agents.js'
import {healthRoutes} from './health.js'
import {orgRoutes} from './orgs.js'
import {secretRoutes} from './secrets.js'
import {tokenRoutes} from './tokens.js'

export const coreRoutes: readonly RouteModule[] = [healthRoutes, tokenRoutes, orgRoutes, agentRoutes, secretRoutes, applyRoutes, capRoutes, sessionRoutes, toolRoutes, openaiCompatRoutes, oauthRoutes]

export {agentRoutes, healthRoutes, orgRoutes, tokenRoutes}

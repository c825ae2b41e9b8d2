/**
 * The route modules the embedded gateway mounts after its core routes (apply, sessions and chat,
 * the OpenAI-compatible endpoint). One list, used by `lobu run`, chat's embedded boot and tests.
 */
import type {RouteModule} from '../gateway/http/types.js'

export async function gatewayRoutes(): Promise<RouteModule[]> {
  return []
}

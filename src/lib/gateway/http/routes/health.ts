import type {HealthResponse} from '../../../contract/api.js'
import type {RouteModule} from '../types.js'

/** `GET /health` (no auth): liveness plus which project a local gateway serves. */
export const healthRoutes: RouteModule = {
  name: 'health',
  register(app, services) {
    app.get('/health', (c) => c.json<HealthResponse>({ok: true, version: services.version, project: services.project?.id ?? null}))
  },
}

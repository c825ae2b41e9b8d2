import type {RouteModule} from '../types.js'

/** `GET /health` (no auth): liveness plus which project a local gateway serves. */
export const healthRoutes: RouteModule = {
  name: 'health',
  register(app, services) {
    app.get('/health', (c) => c.json({ok: true as const, version: services.version, project: services.project?.id ?? null}))
  },
}

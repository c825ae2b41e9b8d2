import type {HealthResponse} from '../../../contract/api.js'
import type {RouteModule} from '../types.js'

/**
 * `GET /health` (no auth): 200 `{status: "ready", version, project}` once every boot step is done
 * (for `lobu run`: the CLI token stored and the auto-apply done), 503 `{status: "starting"}`
 * before; `project` says which project a local gateway serves.
 */
export const healthRoutes: RouteModule = {
  name: 'health',
  register(app, services) {
    app.get('/health', (c) => {
      if (services.readiness && !services.readiness.ready) {
        c.header('retry-after', '1')
        return c.json({status: 'starting' as const, waitingFor: services.readiness.waitingFor}, 503)
      }
      return c.json<HealthResponse>({status: 'ready', ok: true, version: services.version, project: services.project?.id ?? null})
    })
  },
}

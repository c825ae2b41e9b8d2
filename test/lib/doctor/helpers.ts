/** Fixtures for the doctor tests: temp dirs, a project on disk, and a fake gateway on loopback. */
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export interface TempDir {
  root: string
  cleanup(): void
}

export function tempDir(prefix = 'lobu-doctor-'): TempDir {
  const root = mkdtempSync(join(tmpdir(), prefix))
  return {root, cleanup: () => rmSync(root, {recursive: true, force: true})}
}

/** A project dir with lobu.toml (and agent dirs for every `[agents.ID]` it declares). */
export function writeProject(root: string, toml: string, opts: {dotenv?: string} = {}): string {
  mkdirSync(root, {recursive: true})
  writeFileSync(join(root, 'lobu.toml'), toml)
  for (const m of toml.matchAll(/^\[agents\.([a-z0-9-]+)\]$/gm)) mkdirSync(join(root, 'agents', m[1]!), {recursive: true})
  if (opts.dotenv !== undefined) writeFileSync(join(root, '.env'), opts.dotenv)
  return root
}

export function agentToml(agentId: string, providers: string[] = [], extra = ''): string {
  const blocks = providers.map((p) => `\n[[agents.${agentId}.providers]]\n${p}\n`).join('')
  return `${extra}[agents.${agentId}]\nname = "${agentId}"\ndir = "./agents/${agentId}"\n${blocks}`
}

export interface FakeGateway {
  url: string
  port: number
  /** Paths requested so far, with the Authorization header seen. */
  requests: Array<{path: string; authorization?: string}>
  close(): Promise<void>
}

export interface FakeGatewayOptions {
  /** What /health answers: a Lobu gateway (default), a 404 page, a 503 while starting, or nothing at all. */
  health?: 'gateway' | 'not-lobu' | 'starting' | 'hang'
  project?: string | null
  version?: string
  /** Valid tokens and who they belong to. */
  tokens?: Record<string, {user: string; org: string; expiresAt: string | null}>
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {'content-type': 'application/json'})
  res.end(JSON.stringify(body))
}

/** A tiny stand-in for a gateway's `/health` and `/api/v1/whoami` on 127.0.0.1. */
export async function fakeGateway(opts: FakeGatewayOptions = {}): Promise<FakeGateway> {
  const requests: FakeGateway['requests'] = []
  const server = http.createServer((req, res) => {
    requests.push({path: req.url ?? '', authorization: req.headers.authorization})
    const mode = opts.health ?? 'gateway'
    if (mode === 'hang') return // never answers
    if (mode === 'not-lobu') {
      res.writeHead(404, {'content-type': 'text/html'})
      res.end('<h1>Not Found</h1>')
      return
    }
    if (mode === 'starting') return send(res, 503, {error: {code: 'UNAVAILABLE', message: 'the gateway is starting'}})
    if (req.url === '/health') return send(res, 200, {ok: true, version: opts.version ?? '9.9.9', project: opts.project ?? null})
    if (req.url === '/api/v1/whoami') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
      const who = token ? opts.tokens?.[token] : undefined
      if (!who) return send(res, 401, {error: {code: 'UNAUTHENTICATED', message: 'invalid token'}})
      return send(res, 200, {
        user: {id: 'u1', name: who.user, email: `${who.user}@example.test`},
        org: {id: 'o1', slug: who.org, name: who.org},
        token: {id: 't1', name: 'cli', scopes: ['chat'], expiresAt: who.expiresAt},
      })
    }
    send(res, 404, {error: {code: 'NOT_FOUND', message: 'no route'}})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A TCP port on 127.0.0.1 with nothing listening (bound, then released). */
export async function unusedPort(): Promise<number> {
  const {createServer} = await import('node:net')
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address() as {port: number}
      srv.close(() => resolve(port))
    })
  })
}

/**
 * `lobu oauth connect / status / disconnect`: the caller's own account connections for an
 * agent — OAuth grants of its MCP servers (the gateway runs the authorization-code + PKCE flow;
 * the CLI prints/opens the URL and waits for the grant) and API keys for its providers (BYOK).
 */
import type {ConnectRequest, ConnectStart, ConnectionView, ProviderKeyRequest} from '../contract/api.js'
import {OperationError, UsageError} from '../core/errors.js'
import type {ApiClient} from '../client/api-client.js'
import {canOpenBrowser, openBrowser} from './browser.js'
import {defaultSleep} from './device.js'

/** The gateway's view of one connection (the wire type is the gateway's; type-only import). */
export type Connection = ConnectionView

const TARGET = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

export function checkTarget(id: string): string {
  if (!TARGET.test(id)) {
    throw new UsageError(`invalid id "${id}": expected an MCP server or provider id (letters, digits, "_", "." and "-")`, {code: 'INVALID_TARGET'})
  }
  return id
}

export function listConnections(client: ApiClient, agentId?: string): Promise<Connection[]> {
  const query = agentId ? `?agentId=${encodeURIComponent(agentId)}` : ''
  return client.get<Connection[]>(`/api/v1/oauth/connections${query}`)
}

export interface ConnectOptions {
  client: ApiClient
  agentId: string
  target: string
  /** --browser / --no-browser. */
  browser: boolean
  note: (line: string) => void
  /** Give up after this long (default: until the authorization expires, at most 10 minutes). */
  timeoutMs?: number
  pollMs?: number
  signal?: AbortSignal
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  now?: () => number
  open?: (url: string) => Promise<boolean>
  canOpen?: () => boolean
}

/** Start the flow, show the URL, wait until the gateway's callback has stored the grant. */
export async function connectAccount(opts: ConnectOptions): Promise<Connection> {
  const {client, agentId, target} = opts
  const now = opts.now ?? Date.now
  const sleep = opts.sleep ?? defaultSleep
  const isSame = (c: Connection) => c.kind === 'mcp' && c.target === target && c.agentId === agentId
  const before = (await listConnections(client, agentId)).find(isSame)

  const start = await client.post<ConnectStart>('/api/v1/oauth/connect', {agentId, target} satisfies ConnectRequest)
  opts.note(`Open this URL to connect your account for "${target}" (agent ${agentId}):`)
  opts.note(`  ${start.authorizeUrl}`)
  if (opts.browser && (opts.canOpen ?? (() => canOpenBrowser()))()) {
    if (await (opts.open ?? openBrowser)(start.authorizeUrl)) opts.note('Opened your browser.')
  }
  opts.note('Waiting for the authorization… (Ctrl-C to cancel)')

  const expires = Date.parse(start.expiresAt)
  const deadline = Math.min(now() + (opts.timeoutMs ?? 10 * 60_000), Number.isNaN(expires) ? Infinity : expires)
  const pollMs = opts.pollMs ?? 2_000
  while (now() < deadline) {
    await sleep(Math.max(0, Math.min(pollMs, deadline - now())), opts.signal)
    const found = (await listConnections(client, agentId)).find(isSame)
    if (found && found.status === 'active' && (!before || found.updatedAt !== before.updatedAt || found.id !== before.id)) return found
  }
  throw new OperationError(`timed out waiting for the authorization of "${target}"`, {
    code: 'CONNECT_TIMEOUT',
    hint: `Nothing was stored. Run \`lobu oauth connect ${target} --agent ${agentId}\` again and finish in the browser within 10 minutes`,
  })
}

/** BYOK: store the caller's own API key for a provider of the agent. */
export async function connectKey(client: ApiClient, input: {agentId: string; providerId: string; key: string}): Promise<Connection> {
  const key = input.key.trim()
  if (key === '') throw new UsageError('no key on stdin', {code: 'NO_KEY_INPUT', hint: 'Pipe it in: lobu oauth connect openai --with-key < key.txt'})
  if (/\s/.test(key)) throw new UsageError('the key must be one line without spaces', {code: 'INVALID_KEY'})
  return client.post<Connection>('/api/v1/oauth/keys', {agentId: input.agentId, providerId: input.providerId, key} satisfies ProviderKeyRequest)
}

/** Remove the caller's connection(s) named `id` (a target id or a connection id) for the agent. */
export async function disconnect(client: ApiClient, agentId: string, id: string): Promise<Connection[]> {
  const all = await listConnections(client, agentId)
  const matching = all.some((c) => c.id === id) ? all.filter((c) => c.id === id) : all.filter((c) => c.target === id)
  if (matching.length === 0) {
    throw new OperationError(`no connection "${id}" for agent ${agentId}`, {code: 'CONNECTION_NOT_FOUND', hint: `See yours with: lobu oauth status --agent ${agentId}`})
  }
  for (const c of matching) await client.delete(`/api/v1/oauth/connections/${encodeURIComponent(c.id)}`)
  return matching
}

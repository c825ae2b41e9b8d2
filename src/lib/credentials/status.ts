/**
 * `lobu auth status` as a function: for every context, the gateway, the account it uses (the
 * active one, or LOBU_TOKEN for the selected context), its scopes and expiry, whether the gateway
 * answers, and the other accounts stored for that origin. `/health` of every context is asked
 * concurrently with a short timeout; no token is sent anywhere.
 */
import {probeJson} from '../doctor/http.js'
import {type LocalProject, listContexts, resolveContext} from '../context/index.js'
import type {Env} from '../context/files.js'
import {accountName, listAccounts, tokenForContext, type AccountKind} from './store.js'

export interface AuthStatusEntry {
  context: string
  url: string
  /** The context commands use by default (or the one of --context / LOBU_CONTEXT). */
  selected: boolean
  account: {name: string; kind: AccountKind | 'env'; tokenId: string | null; scopes: string[]; expiresAt: string | null} | null
  /** Other accounts stored for this origin (`lobu auth switch` candidates). */
  others: string[]
  reachable: boolean
  /** Why not, when not reachable. */
  reason?: string
  /** The project a local gateway says it serves. */
  project?: string | null
}

export async function authStatus(opts: {env?: Env; project?: LocalProject; timeoutMs?: number; flag?: string} = {}): Promise<AuthStatusEntry[]> {
  const env = opts.env ?? process.env
  const selected = resolveContext({flag: opts.flag, env, project: opts.project}).name
  const accounts = new Map(listAccounts(env).map((o) => [o.origin, o.accounts]))
  const contexts = listContexts({env, project: opts.project})
  return Promise.all(
    contexts.map(async (c): Promise<AuthStatusEntry> => {
      const origin = new URL(c.url).origin
      // LOBU_TOKEN only ever goes to the selected context.
      const t = tokenForContext({origin, name: c.name}, c.name === selected ? env : {...env, LOBU_TOKEN: undefined})
      const account: AuthStatusEntry['account'] = !t
        ? null
        : t.source === 'env'
          ? {name: 'LOBU_TOKEN', kind: 'env', tokenId: null, scopes: [], expiresAt: null}
          : {name: accountName(t.stored!), kind: t.stored!.kind, tokenId: t.stored!.tokenId || null, scopes: t.stored!.scopes, expiresAt: t.stored!.expiresAt}
      const others = (accounts.get(origin) ?? []).filter((a) => a.token !== t?.token).map((a) => a.name)
      const probe = await probeJson(`${c.url}/health`, {timeoutMs: opts.timeoutMs ?? 2_000})
      const entry: AuthStatusEntry = {context: c.name, url: c.url, selected: c.name === selected, account, others, reachable: probe.kind === 'response'}
      if (probe.kind === 'unreachable') entry.reason = probe.reason
      else if (probe.body && typeof probe.body === 'object' && 'project' in probe.body) entry.project = (probe.body as {project?: string | null}).project ?? null
      return entry
    }),
  )
}

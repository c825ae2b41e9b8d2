/**
 * Gateway reachability per context: `GET /health` (version, project served), whether a token is
 * stored for its origin, and with a token `GET /api/v1/whoami` (user, org, expiry). Every context
 * is probed concurrently with a short timeout. Problems of the context commands use by default
 * (or of --context) fail; problems of the other contexts are warnings.
 */
import {LobuError} from '../core/errors.js'
import {projectIdOf} from '../config/project-id.js'
import type {Project} from '../config/index.js'
import {type ContextInfo, listContexts, resolveContext} from '../context/index.js'
import {formatExpiry} from '../credentials/format.js'
import {getStoredToken, tokenForContext} from '../credentials/index.js'
import {type HealthResult, probeHealth, probeJson} from './http.js'
import {type Check, type CheckStatus, check} from './types.js'
import type {WhoamiResponse} from '../contract/api.js'

export interface GatewayChecksOptions {
  env: NodeJS.ProcessEnv
  project?: Project
  /** Only this context (--context); an unknown name throws UsageError (exit 2). */
  context?: string
  timeoutMs: number
  now: Date
}

/** Warn when a token expires within this many days. */
const EXPIRY_WARNING_DAYS = 7

/** The token doctor found for a context, and where it came from. */
interface FoundToken {
  token: string
  source: 'env' | 'stored'
  expiresAt?: string | null
}

type TokenLookup = {kind: 'token'; info: FoundToken} | {kind: 'none'} | {kind: 'error'; message: string}

const RANK: Record<CheckStatus, number> = {ok: 0, warn: 1, fail: 2}

function worst(a: CheckStatus, b: CheckStatus): CheckStatus {
  return RANK[b] > RANK[a] ? b : a
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.')
}

function lookupToken(ctx: ContextInfo, selected: boolean, env: NodeJS.ProcessEnv): TokenLookup {
  const origin = new URL(ctx.url).origin
  try {
    if (selected) {
      const t = tokenForContext({origin, name: ctx.name}, env)
      return t ? {kind: 'token', info: {token: t.token, source: t.source, expiresAt: t.stored?.expiresAt}} : {kind: 'none'}
    }
    const stored = getStoredToken(origin, env, ctx.name)
    return stored ? {kind: 'token', info: {token: stored.token, source: 'stored', expiresAt: stored.expiresAt}} : {kind: 'none'}
  } catch (error) {
    return {kind: 'error', message: error instanceof LobuError ? error.message : String(error)}
  }
}

function loginFix(ctx: ContextInfo, local: boolean): string {
  return local ? 'Restart `lobu run`: it stores a fresh token for its URL at boot' : `lobu oauth login -c ${ctx.name} (or create a token elsewhere with \`lobu token create\` and set LOBU_TOKEN)`
}

interface Outcome {
  status: CheckStatus
  parts: string[]
  fix?: string
}

function add(out: Outcome, status: CheckStatus, part: string, fix?: string): void {
  out.status = worst(out.status, status)
  out.parts.push(part)
  if (fix && out.fix === undefined) out.fix = fix
}

function expiryStatus(expiresAt: string | null | undefined, now: Date): {status: CheckStatus; text: string; expired: boolean} {
  if (!expiresAt) return {status: 'ok', text: 'never expires', expired: false}
  const at = Date.parse(expiresAt)
  const text = `expires ${formatExpiry(expiresAt, now)}`
  if (Number.isNaN(at)) return {status: 'ok', text, expired: false}
  if (at <= now.getTime()) return {status: 'fail', text: `expired ${formatExpiry(expiresAt, now)}`, expired: true}
  const soon = at - now.getTime() < EXPIRY_WARNING_DAYS * 24 * 3600 * 1000
  return {status: soon ? 'warn' : 'ok', text, expired: false}
}

async function checkOne(ctx: ContextInfo, selected: boolean, opts: GatewayChecksOptions): Promise<Check> {
  const local = ctx.name === 'local' && isLoopback(ctx.url)
  const bad: CheckStatus = selected ? 'fail' : 'warn'
  const marks = [ctx.current ? 'current' : '', selected && !ctx.current ? 'selected' : ''].filter(Boolean)
  const label = `context ${ctx.name}${marks.length > 0 ? ` (${marks.join(', ')})` : ''} ${ctx.url}`
  const out: Outcome = {status: 'ok', parts: []}
  const token = lookupToken(ctx, selected, opts.env)
  const health: HealthResult = await probeHealth(ctx.url, opts.timeoutMs)

  if (health.kind === 'unreachable') {
    if (local) {
      add(out, 'ok', 'not running (`lobu chat` starts one for a chat; `lobu run` keeps one up)')
      if (token.kind !== 'error') {
        add(out, 'ok', token.kind === 'token' ? 'token stored' : 'no token yet (`lobu run` stores one)')
        return check(`gateway:${ctx.name}`, out.status, `${label}: ${out.parts.join('; ')}`)
      }
    } else {
      add(out, bad, `unreachable: ${health.reason}`, `Check the URL and your network; \`lobu context remove ${ctx.name}\` if that gateway is gone`)
    }
  } else if (health.kind === 'other') {
    const fix = local ? 'Another program uses that port: stop it, or set gateway.port in lobu.toml' : `Check the URL: \`lobu context remove ${ctx.name}\` and add it again with the gateway's base URL`
    add(out, bad, `something that is not a Lobu gateway answers (GET /health: HTTP ${health.status})`, fix)
  } else {
    const h = health.health
    add(out, 'ok', h.starting ? 'up, starting or stopping' : `up${h.version ? ` (lobu ${h.version})` : ''}`)
    if (local && opts.project && !h.starting) {
      const expected = projectIdOf(opts.project).id
      if (h.project !== expected) {
        add(out, 'warn', `serves ${h.project ? `project "${h.project}"` : 'no project'}, not "${expected}" (this directory)`, 'Stop that gateway and run `lobu run` here, or set another gateway.port in lobu.toml')
      }
    }
  }

  if (token.kind === 'error') {
    // The credentials check fails already; here it only explains why no token is used.
    add(out, 'warn', `token unreadable: ${token.message}`, 'Fix credentials.json (see its check above)')
  } else if (token.kind === 'none') {
    add(out, local && health.kind !== 'gateway' ? 'ok' : 'warn', `no token stored for ${new URL(ctx.url).origin}`, loginFix(ctx, local))
  } else {
    const source = token.info.source === 'env' ? 'LOBU_TOKEN' : 'stored token'
    const stored = expiryStatus(token.info.expiresAt, opts.now)
    if (health.kind !== 'gateway' || health.health.starting) {
      if (stored.expired) add(out, bad, `${source} ${stored.text}`, loginFix(ctx, local))
      else add(out, 'ok', `${source} (${stored.text})`)
    } else {
      await whoami(ctx, token.info, source, local, bad, out, opts)
    }
  }
  return check(`gateway:${ctx.name}`, out.status, `${label}: ${out.parts.join('; ')}`, out.status === 'ok' ? undefined : out.fix)
}

async function whoami(ctx: ContextInfo, token: FoundToken, source: string, local: boolean, bad: CheckStatus, out: Outcome, opts: GatewayChecksOptions): Promise<void> {
  const r = await probeJson(`${ctx.url}/api/v1/whoami`, {timeoutMs: opts.timeoutMs, token: token.token})
  if (r.kind === 'unreachable') {
    add(out, 'warn', `whoami: ${r.reason}`, 'Try again; `lobu whoami -c ' + ctx.name + '` shows the error')
    return
  }
  if (r.status === 401 || r.status === 403) {
    const fix = token.source === 'env' ? 'LOBU_TOKEN is rejected by this gateway: unset it or set a valid token' : loginFix(ctx, local)
    add(out, bad, `${source} rejected (HTTP ${r.status})`, fix)
    return
  }
  if (r.status !== 200 || typeof r.body !== 'object' || r.body === null) {
    add(out, 'warn', `whoami answered HTTP ${r.status}`, `\`lobu whoami -c ${ctx.name}\` shows the error`)
    return
  }
  // A gateway of another version may leave fields out: doctor reads them with care.
  const me = r.body as Partial<WhoamiResponse>
  const expiry = expiryStatus(me.token?.expiresAt ?? null, opts.now)
  const who = `${me.user?.name ?? me.user?.id ?? '?'} in org ${me.org?.slug ?? me.org?.id ?? '?'}`
  add(out, expiry.status === 'fail' ? bad : expiry.status, `signed in as ${who} (${source}, ${expiry.text})`, loginFix(ctx, local))
}

/** One check per context (or only --context), plus a `contexts` failure when config.json or the selection is broken. */
export async function checkGateways(opts: GatewayChecksOptions): Promise<Check[]> {
  const projectPort = opts.project?.config.gateway?.port
  // `local` in a project is its gateway (.lobu/gateway.json), as for every command.
  const project = opts.project ? {root: opts.project.root, id: projectIdOf(opts.project).id, port: projectPort} : undefined
  let contexts: ContextInfo[]
  try {
    contexts = listContexts({env: opts.env, projectPort, project})
  } catch (error) {
    if (!(error instanceof LobuError)) throw error
    return [check('contexts', 'fail', error.message, error.hint)]
  }
  const checks: Check[] = []
  let selected: string | undefined
  try {
    selected = resolveContext({flag: opts.context, env: opts.env, projectPort, project}).name
  } catch (error) {
    // An unknown --context is a usage error, as in every command; a broken default is a finding.
    if (opts.context !== undefined || !(error instanceof LobuError)) throw error
    checks.push(check('contexts', 'fail', error.message, error.hint))
  }
  const targets = opts.context === undefined ? contexts : contexts.filter((c) => c.name === selected)
  checks.push(...(await Promise.all(targets.map((ctx) => checkOne(ctx, ctx.name === selected, opts)))))
  return checks
}

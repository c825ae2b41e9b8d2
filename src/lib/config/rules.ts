/**
 * The rules of lobu.toml that a shape cannot express: they relate keys to each other, to the
 * provider catalog or to the disk. They run over the raw parsed document, defensively (a value of
 * the wrong type is the schema's error, not theirs), so they run even when the schema failed and
 * every problem of a file is reported at once.
 */
import {statSync} from 'node:fs'
import path from 'node:path'

import {CATALOG, catalogEntry} from '../contract/providers.js'
import {isMalformedEnvRef, parseEnvRef} from './env-ref-syntax.js'
import type {PathSegment} from './issues.js'
import {COMPAT, PRE_APPROVED} from './schema.js'
import {closest} from './suggest.js'
import {isTable} from './values.js'

export interface RuleContext {
  root: string
  kindAt(path: readonly PathSegment[]): string | undefined
  error(path: readonly PathSegment[], message: string, at?: 'key' | 'value'): void
  warn(path: readonly PathSegment[], message: string, at?: 'key' | 'value'): void
}

const HTTP_TYPES = new Set(['streamable-http', 'sse'])
const COMPAT_WARNING = 'not supported yet: ignored'

const entries = (value: unknown): [string, unknown][] => (isTable(value) ? Object.entries(value) : [])
const didYouMean = (input: string, candidates: Iterable<string>): string => {
  const guess = closest(input, candidates)
  return guess === undefined ? '' : `; did you mean \`${guess}\`?`
}

export function checkRules(doc: unknown, ctx: RuleContext): void {
  if (!isTable(doc)) return

  // `8080.0` parses as the integer 8080: only the source tells it was written as a float.
  const port = isTable(doc.gateway) ? doc.gateway.port : undefined
  if (typeof port === 'number' && Number.isInteger(port) && ctx.kindAt(['gateway', 'port']) === 'float') {
    ctx.error(['gateway', 'port'], 'expected an integer from 1 to 65535, got a float', 'value')
  }
  for (const key of COMPAT.root) if (doc[key] !== undefined) ctx.warn([key], COMPAT_WARNING)

  for (const [agentId, agent] of entries(doc.agents)) {
    if (!isTable(agent)) continue
    const base: PathSegment[] = ['agents', agentId]
    checkDir(agent.dir, [...base, 'dir'], ctx)
    if (Array.isArray(agent.providers)) {
      agent.providers.forEach((provider, index) => checkProvider(provider, [...base, 'providers', index], ctx))
    }

    const servers = isTable(agent.skills) && isTable(agent.skills.mcp) ? agent.skills.mcp : {}
    for (const [serverId, server] of Object.entries(servers)) checkMcp(server, [...base, 'skills', 'mcp', serverId], ctx)

    if (isTable(agent.tools) && Array.isArray(agent.tools.pre_approved)) {
      agent.tools.pre_approved.forEach((entry, index) => {
        if (typeof entry !== 'string') return
        const match = PRE_APPROVED.exec(entry)
        if (!match) return // the schema reports the format
        const serverId = match[1]!
        if (Object.hasOwn(servers, serverId)) return
        const known = Object.keys(servers)
        ctx.error(
          [...base, 'tools', 'pre_approved', index],
          `\`${serverId}\` is not an MCP server of agent \`${agentId}\`` +
            (known.length === 0 ? ' (it declares none under skills.mcp)' : didYouMean(serverId, known) || ` (it has: ${known.join(', ')})`),
          'value',
        )
      })
    }

    for (const key of COMPAT.agent) if (agent[key] !== undefined) ctx.warn([...base, key], COMPAT_WARNING)
    if (isTable(agent.network)) {
      for (const key of COMPAT.network) if (agent.network[key] !== undefined) ctx.warn([...base, 'network', key], COMPAT_WARNING)
    }
  }
}

function checkDir(dir: unknown, at: PathSegment[], ctx: RuleContext): void {
  if (typeof dir !== 'string' || dir === '') return
  const resolved = path.resolve(ctx.root, dir)
  let isDirectory: boolean
  try {
    isDirectory = statSync(resolved).isDirectory()
  } catch {
    ctx.error(at, `directory ${JSON.stringify(dir)} does not exist (looked for ${resolved})`, 'value')
    return
  }
  if (!isDirectory) ctx.error(at, `${JSON.stringify(dir)} is not a directory`, 'value')
}

function checkRef(value: unknown, at: PathSegment[], ctx: RuleContext): void {
  if (typeof value === 'string' && isMalformedEnvRef(value)) {
    ctx.error(at, `${JSON.stringify(value)} is not a valid reference: write $NAME or \${NAME} with NAME in [A-Z_][A-Z0-9_]*`, 'value')
  }
}

function checkProvider(provider: unknown, at: PathSegment[], ctx: RuleContext): void {
  if (!isTable(provider)) return
  const {base_url: baseUrl, id, key, model} = provider
  if (typeof id === 'string' && id !== '' && !catalogEntry(id)) {
    if (baseUrl === undefined) {
      const ids = CATALOG.map((e) => e.id)
      const guess = closest(id, ids)
      ctx.error(
        [...at, 'id'],
        `unknown provider \`${id}\`` +
          (guess ? `; did you mean \`${guess}\`?` : `: expected one of ${ids.join(', ')}`) +
          ' (any other id needs `base_url`, an OpenAI-compatible endpoint)',
        'value',
      )
    } else if (model === undefined) {
      ctx.error([...at, 'model'], `missing required key: provider \`${id}\` is not in the catalog, so it needs a model`)
    }
  }
  if (key !== undefined && provider.secret_ref !== undefined) {
    ctx.error([...at, 'secret_ref'], 'set only one of `key` and `secret_ref`')
  }
  if (typeof key === 'string' && key !== '') {
    if (isMalformedEnvRef(key)) checkRef(key, [...at, 'key'], ctx)
    else if (parseEnvRef(key) === undefined) {
      const variable = (typeof id === 'string' && catalogEntry(id)?.keyEnv[0]) || 'NAME'
      ctx.warn([...at, 'key'], `literal API key in lobu.toml: write "$${variable}" and keep the value in .env`, 'value')
    }
  }
}

function checkMcp(server: unknown, at: PathSegment[], ctx: RuleContext): void {
  if (!isTable(server)) return
  const declared = typeof server.type === 'string' ? server.type : undefined
  const type = declared ?? (server.url !== undefined ? 'streamable-http' : server.command === undefined ? undefined : 'stdio')
  if (server.type === undefined && type === undefined) {
    ctx.error(at, 'expected `url` (a streamable-http or sse server) or `command` (a stdio server)')
  } else if (type !== undefined && HTTP_TYPES.has(type)) {
    if (server.url === undefined) ctx.error([...at, 'url'], `missing required key: a ${type} server needs a url`)
    for (const key of ['command', 'args', 'env']) {
      if (server[key] !== undefined) ctx.error([...at, key], `\`${key}\` only applies to stdio servers (this one is ${type})`)
    }
  } else if (type === 'stdio') {
    if (server.command === undefined) ctx.error([...at, 'command'], 'missing required key: a stdio server needs a command')
    for (const key of ['url', 'headers', 'oauth']) {
      if (server[key] !== undefined) ctx.error([...at, key], `\`${key}\` only applies to streamable-http and sse servers (this one is stdio)`)
    }
  }
  for (const [name, value] of entries(server.env)) checkRef(value, [...at, 'env', name], ctx)
  for (const [name, value] of entries(server.headers)) checkRef(value, [...at, 'headers', name], ctx)
  if (isTable(server.oauth)) checkRef(server.oauth.client_secret, [...at, 'oauth', 'client_secret'], ctx)
}

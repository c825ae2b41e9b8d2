/**
 * `lobu agents`: the agents of the caller's org as text. Everything shown comes from the gateway
 * and is neutralised (no control character reaches the terminal).
 */
import type {AgentDetail, AgentSummary} from '../contract/api.js'
import {neutralizeControls} from '../cli/terminal.js'
import {formatDate, formatTable} from '../credentials/format.js'

const safe = (text: string | null | undefined) => neutralizeControls(text ?? '')

/** Where a provider's key comes from, for people: `org secret OPENAI_API_KEY`, `gateway env …`. */
export function describeKeySource(keySource: string): string {
  const [kind, ...rest] = keySource.split(':')
  const name = safe(rest.join(':'))
  if (kind === 'secret') return `org secret ${name}`
  if (kind === 'env') return `gateway env ${name}`
  return 'no key'
}

function providersCell(agent: AgentSummary): string {
  if (agent.providers.length === 0) return '(system providers)'
  return agent.providers.map((p) => `${safe(p.id)}/${safe(p.model)}`).join(', ')
}

/** One row per agent: id, name, providers, MCP servers, managed by, updated. */
export function renderAgentList(agents: readonly AgentSummary[]): string {
  const rows = [['ID', 'NAME', 'PROVIDERS', 'MCP', 'MANAGED BY', 'UPDATED']]
  for (const a of agents) {
    rows.push([safe(a.id), safe(a.name), providersCell(a), a.mcp.map(safe).join(', ') || '-', a.managedBy ? `project ${safe(a.managedBy)}` : 'hand-made', formatDate(a.updatedAt)])
  }
  return formatTable(rows) + '\n'
}

/** One agent: providers in the order they are tried (with their key source), MCP servers, tool rules. */
export function renderAgent(agent: AgentDetail): string {
  const out: string[] = []
  out.push(
    formatTable([
      ['Agent:', `${safe(agent.id)} (${safe(agent.name)})`],
      ...(agent.description ? [['Description:', safe(agent.description)]] : []),
      ['Managed by:', agent.managedBy ? `project ${safe(agent.managedBy)} (lobu apply)` : 'hand-made (not managed by a project)'],
      ['Updated:', agent.updatedAt],
    ]),
  )
  out.push('', 'Providers (tried in order):')
  if (agent.providers.length === 0) out.push('  none declared: the gateway’s system providers answer')
  for (const p of agent.providers) {
    out.push(`  ${safe(p.id)}  ${safe(p.model)}  key: ${describeKeySource(p.keySource)}${p.baseUrl ? `  base URL: ${safe(p.baseUrl)}` : ''}`)
  }
  const servers = Object.entries(agent.mcpServers)
  out.push('', 'MCP servers:')
  if (servers.length === 0) out.push('  none')
  for (const [id, s] of servers) {
    const where = s.url ? safe(s.url) : s.command ? safe(s.command) : ''
    const extra = [s.oauth ? 'OAuth' : '', s.envNames.length > 0 ? `env ${s.envNames.map(safe).join(', ')}` : '', s.headerNames.length > 0 ? `headers ${s.headerNames.map(safe).join(', ')}` : '']
      .filter(Boolean)
      .join('; ')
    out.push(`  ${safe(id)}  ${safe(s.type)}  ${where}${extra ? `  (${extra})` : ''}`.trimEnd())
  }
  const {preApproved, allowed, denied} = agent.tools
  out.push('', 'Tools:')
  out.push(`  pre-approved: ${preApproved.map(safe).join(', ') || '-'}`)
  out.push(`  allowed:      ${allowed.map(safe).join(', ') || '-'}`)
  out.push(`  denied:       ${denied.map(safe).join(', ') || '-'}`)
  if (agent.network.allowed.length > 0 || agent.network.denied.length > 0) {
    out.push('', `Network: allowed ${agent.network.allowed.map(safe).join(', ') || '-'}; denied ${agent.network.denied.map(safe).join(', ') || '-'}`)
  }
  const files = [agent.files.identity ? 'IDENTITY.md' : '', agent.files.soul ? 'SOUL.md' : '', agent.files.user ? 'USER.md' : '', ...agent.files.skills.map((s) => `skills/${safe(s)}`)].filter(Boolean)
  out.push('', `Files: ${files.join(', ') || '-'}`)
  return out.join('\n') + '\n'
}

/**
 * Rendering of plans and apply results for people (pure: lines in, nothing printed).
 *
 *   + create agent support
 *       name: "Support"
 *   ~ update agent support
 *       providers[0].model: "gpt-4o" → "gpt-4o-mini"
 *   - delete agent old
 *   = unchanged agent default
 *   ~ secret OPENAI_API_KEY (value changed)
 *
 * Secret values never reach this module: the gateway only says that a value changed.
 */
import type {ApplyResult, FieldChange, Plan, PlanChange, PlanSummary} from '../contract/apply.js'

/** Colour hooks; the identity by default (no TTY, NO_COLOR, --json). */
export interface RenderStyle {
  add(text: string): string
  change(text: string): string
  remove(text: string): string
  dim(text: string): string
}

export const plainStyle: RenderStyle = {add: (t) => t, change: (t) => t, remove: (t) => t, dim: (t) => t}

const MAX_INLINE = 60

/** A value as it appears in a diff line: JSON, long or multi-line text shortened. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '(none)'
  if (typeof value === 'string' && (value.length > MAX_INLINE || value.includes('\n'))) {
    const lines = value.split('\n')
    const first = lines[0]!.slice(0, 40)
    const cut = first.length < value.length ? '…' : ''
    const count = lines.length > 1 ? `${lines.length} lines` : `${value.length} chars`
    return `${JSON.stringify(first + cut)} (${count})`
  }
  const json = JSON.stringify(value)
  return json.length > MAX_INLINE * 2 ? json.slice(0, MAX_INLINE * 2) + '…' : json
}

function fieldLine(field: FieldChange, action: PlanChange['action']): string {
  if (field.changed) return `${field.path} (changed)`
  if (action === 'create') return `${field.path}: ${formatValue(field.after)}`
  if (!('before' in field)) return `${field.path}: (none) → ${formatValue(field.after)}`
  if (!('after' in field)) return `${field.path}: ${formatValue(field.before)} → (removed)`
  const before = formatValue(field.before)
  const after = formatValue(field.after)
  // Two texts that shorten to the same form still differ: say so.
  return before === after ? `${field.path}: ${before} → (changed)` : `${field.path}: ${before} → ${after}`
}

function changeLines(change: PlanChange, style: RenderStyle): string[] {
  if (change.kind === 'secret') {
    switch (change.action) {
      case 'create':
        return [style.add(`+ secret ${change.id} (new)`)]
      case 'update':
        return [style.change(`~ secret ${change.id} (value changed)`)]
      case 'delete':
        return [style.remove(`- secret ${change.id}`)]
      default:
        return [style.dim(`= secret ${change.id} (unchanged)`)]
    }
  }
  switch (change.action) {
    case 'create':
      return [style.add(`+ create agent ${change.id}`), ...change.fields.map((f) => style.add(`    ${fieldLine(f, 'create')}`))]
    case 'update':
      return [style.change(`~ update agent ${change.id}`), ...change.fields.map((f) => `    ${fieldLine(f, 'update')}`)]
    case 'delete':
      return [style.remove(`- delete agent ${change.id}`)]
    default:
      return [style.dim(`= unchanged agent ${change.id}`)]
  }
}

/** The plan as lines for stdout: agents first (in plan order), then secrets. */
export function renderPlan(plan: Pick<Plan, 'changes'>, style: RenderStyle = plainStyle): string[] {
  const agents = plan.changes.filter((c) => c.kind === 'agent')
  const secrets = plan.changes.filter((c) => c.kind === 'secret')
  return [...agents, ...secrets].flatMap((c) => changeLines(c, style))
}

export function hasChanges(summary: PlanSummary): boolean {
  return summary.create + summary.update + summary.delete > 0
}

/** `Plan: 1 to create, 2 to update, 0 to delete, 3 unchanged.` */
export function summaryLine(summary: PlanSummary): string {
  return `Plan: ${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete, ${summary.noop} unchanged.`
}

/** `Applied: 1 created, 2 updated, 0 deleted, 3 unchanged.` */
export function appliedLine(summary: PlanSummary): string {
  return `Applied: ${summary.create} created, ${summary.update} updated, ${summary.delete} deleted, ${summary.noop} unchanged.`
}

const PAST: Record<PlanChange['action'], string> = {create: 'created', update: 'updated', delete: 'deleted', noop: 'unchanged'}

/**
 * One line per agent for `lobu run`'s boot output: `support: updated (providers[0].model)`.
 */
export function agentSummaryLines(result: Pick<ApplyResult, 'changes'>): string[] {
  return result.changes
    .filter((c) => c.kind === 'agent')
    .map((c) => {
      if (c.action !== 'update') return `agent ${c.id}: ${PAST[c.action]}`
      const paths = c.fields.map((f) => f.path)
      const shown = paths.slice(0, 3).join(', ') + (paths.length > 3 ? `, +${paths.length - 3} more` : '')
      return `agent ${c.id}: updated (${shown})`
    })
}

/**
 * `lobu secrets`: the org secrets that `secret_ref` in lobu.toml (and apply's provider keys) name.
 * Values go to the gateway only (read from stdin, never a flag) and never come back.
 */
import type {SecretView} from '../contract/api.js'
import {SECRET_NAME_PATTERN} from '../contract/ids.js'
import {UsageError} from '../core/errors.js'
import {neutralizeControls} from '../cli/terminal.js'
import {formatDate, formatTable} from '../credentials/format.js'

export function checkSecretName(name: string): string {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new UsageError(`"${neutralizeControls(name)}" is not a secret name`, {
      code: 'INVALID_SECRET_NAME',
      hint: 'A name is letters, digits and _ (not starting with a digit), at most 128, e.g. GITHUB_TOKEN',
    })
  }
  return name
}

export function renderSecretList(secrets: readonly SecretView[]): string {
  const rows = [['NAME', 'USED BY', 'CREATED', 'UPDATED']]
  for (const s of secrets) rows.push([neutralizeControls(s.name), s.usedBy.map((a) => neutralizeControls(a)).join(', ') || '-', formatDate(s.createdAt), formatDate(s.updatedAt)])
  return formatTable(rows) + '\n'
}

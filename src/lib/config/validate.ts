/**
 * `lobu validate` as a plain function: the schema, the rules, and `$NAME` references (missing
 * ones are warnings here; apply and run treat them as errors).
 */
import {resolveEnvRefs} from './env-refs.js'
import {type ConfigIssue, ConfigError, sortIssues} from './issues.js'
import {type LoadProjectOptions, loadProject} from './project.js'

export interface ValidationReport {
  valid: boolean
  /** The file, relative to the working directory. */
  file: string
  /** Agent ids in file order (empty when the file is invalid). */
  agents: string[]
  warnings: ConfigIssue[]
  errors: ConfigIssue[]
}

/**
 * Validates the project's lobu.toml. An invalid file is a report with `valid: false` and the
 * ConfigError to throw; a missing file still throws (UsageError).
 */
export async function validateProject(options: LoadProjectOptions = {}): Promise<{report: ValidationReport; error?: ConfigError}> {
  let project
  try {
    project = await loadProject(options)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return {
      error,
      report: {agents: [], errors: error.errors, file: error.file, valid: false, warnings: error.warnings},
    }
  }
  const {missing} = resolveEnvRefs(project)
  const warnings = sortIssues([
    ...project.warnings,
    ...missing.map(({name: _name, ...issue}) => ({...issue, message: `${issue.message}; lobu apply needs it`, severity: 'warning' as const})),
  ])
  return {
    report: {
      agents: Object.keys(project.config.agents),
      errors: [],
      file: project.displayFile ?? project.file,
      valid: true,
      warnings,
    },
  }
}

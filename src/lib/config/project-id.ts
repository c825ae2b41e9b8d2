import path from 'node:path'

import {projectIdOf as projectIdRule} from '../contract/ids.js'
import type {Project} from './types.js'

/**
 * The id of a project (src/lib/contract/ids.ts): `[project] id`, else its folder's name slugged.
 * What `lobu apply` marks its agents with (managedBy) and what a local gateway of this project
 * reports in /health.
 */
export function projectIdOf(project: Pick<Project, 'root' | 'config'>): {id: string; declared: boolean} {
  return projectIdRule(project.config.project?.id, path.basename(project.root))
}

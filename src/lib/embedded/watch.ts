/**
 * `lobu run --watch`: re-apply when lobu.toml or an agent directory changes (debounced). An
 * invalid edit prints its errors and keeps the last good state running.
 */
import {type FSWatcher, watch} from 'node:fs'
import path from 'node:path'

import {isLobuError} from '../core/errors.js'
import {type Project, agentDir, loadProject} from '../config/index.js'
import type {RunningGateway} from '../gateway/server.js'
import {autoApply} from './auto-apply.js'

export interface WatchOptions {
  project: Project
  cwd: string
  configPath?: string
  gateway: Pick<RunningGateway, 'url' | 'origin'>
  token: string
  log: (line: string) => void
  debounceMs?: number
}

export function watchProject(opts: WatchOptions): () => void {
  const watchers = new Map<string, FSWatcher>()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  let closed = false

  // Directories, not files: editors replace files by rename, which ends a watch on the file.
  const watchPaths = (project: Project) => {
    const names = new Set([path.basename(project.file), '.env'])
    const dirs: Array<[string, (file: string | null) => boolean]> = [[path.dirname(project.file), (f) => f === null || names.has(f)]]
    for (const id of Object.keys(project.config.agents ?? {})) {
      const dir = agentDir(project, id)
      dirs.push([dir, () => true], [path.join(dir, 'skills'), () => true])
    }
    for (const [dir, relevant] of dirs) {
      if (watchers.has(dir)) continue
      try {
        const w = watch(dir, (_event, file) => {
          if (relevant(file === null ? null : String(file))) schedule()
        })
        w.on('error', () => undefined)
        watchers.set(dir, w)
      } catch {
        // a directory that does not exist (yet) is simply not watched
      }
    }
  }

  const reapply = async () => {
    let project: Project
    try {
      project = await loadProject({cwd: opts.cwd, configPath: opts.configPath})
    } catch (err) {
      if (!isLobuError(err)) throw err
      opts.log(`watch: lobu.toml is invalid; keeping the last good state`)
      opts.log(`Error: ${err.message}`)
      for (const d of err.details) opts.log(`  ${d}`)
      return
    }
    watchPaths(project)
    try {
      const {buildDesiredState} = await import('../apply/desired-state.js')
      const desired = await buildDesiredState(project, project.env, {onMissing: (e) => opts.log(`watch: Warning: ${e.message}`)})
      const result = await autoApply({gateway: opts.gateway, token: opts.token, project, desired, log: (l) => opts.log(`watch: ${l}`)})
      const {create, update, delete: del} = result.summary
      if (create + update + del === 0) opts.log('watch: no changes')
    } catch (err) {
      opts.log(`watch: apply failed; keeping the last good state`)
      opts.log(`Error: ${err instanceof Error ? err.message : String(err)}`)
      if (isLobuError(err)) for (const d of err.details) opts.log(`  ${d}`)
    }
  }

  const schedule = () => {
    if (closed) return
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => {
      running = running.then(reapply).catch((err) => opts.log(`watch: ${err instanceof Error ? err.message : String(err)}`))
    }, opts.debounceMs ?? 300)
  }

  watchPaths(opts.project)
  opts.log(`Watching ${path.relative(opts.cwd, opts.project.file) || opts.project.file} and agent directories for changes…`)
  return () => {
    closed = true
    if (timer) clearTimeout(timer)
    for (const w of watchers.values()) w.close()
  }
}

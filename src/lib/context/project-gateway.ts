/**
 * `<project root>/.lobu/gateway.json`: which gateway serves this project right now. `lobu run`
 * (and the temporary gateway of `lobu chat`) writes it once ready and removes it on exit, so that
 * `local` inside a project means THAT project's gateway, whatever port it listens on, and two
 * projects running at once never repoint each other. A file whose pid is not alive is ignored.
 */
import {mkdirSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {toJsonFile, writeFileAtomic} from './files.js'

export interface ProjectGateway {
  url: string
  pid: number
  projectId: string
  startedAt: string
}

export function projectGatewayPath(projectRoot: string): string {
  return join(projectRoot, '.lobu', 'gateway.json')
}

/** Whether a process with this pid runs (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The project's running gateway, or undefined (no file, unreadable, or its process is gone). */
export function readProjectGateway(projectRoot: string): ProjectGateway | undefined {
  let raw: Partial<ProjectGateway> | null
  try {
    raw = JSON.parse(readFileSync(projectGatewayPath(projectRoot), 'utf8')) as Partial<ProjectGateway> | null
  } catch {
    return undefined
  }
  if (!raw || typeof raw.url !== 'string' || !URL.canParse(raw.url) || typeof raw.pid !== 'number') return undefined
  if (!pidAlive(raw.pid)) return undefined
  return {url: raw.url.replace(/\/+$/, ''), pid: raw.pid, projectId: String(raw.projectId ?? ''), startedAt: String(raw.startedAt ?? '')}
}

/** Record this process's gateway for the project (atomically; 0600, it names a local port only). */
export function writeProjectGateway(projectRoot: string, entry: Omit<ProjectGateway, 'pid' | 'startedAt'> & Partial<ProjectGateway>): ProjectGateway {
  const full: ProjectGateway = {
    url: entry.url,
    pid: entry.pid ?? process.pid,
    projectId: entry.projectId,
    startedAt: entry.startedAt ?? new Date().toISOString(),
  }
  mkdirSync(join(projectRoot, '.lobu'), {recursive: true, mode: 0o700})
  writeFileAtomic(projectGatewayPath(projectRoot), toJsonFile(full), 0o600, {fsync: false})
  return full
}

/** Remove the file if it is this process's (another gateway's record is left alone). */
export function removeProjectGateway(projectRoot: string, pid = process.pid): void {
  let raw: {pid?: unknown} | null = null
  try {
    raw = JSON.parse(readFileSync(projectGatewayPath(projectRoot), 'utf8')) as {pid?: unknown} | null
  } catch {
    // missing or unreadable: remove a corrupt one below only when it is not someone else's
  }
  if (raw && raw.pid !== pid && typeof raw.pid === 'number' && pidAlive(raw.pid)) return
  rmSync(projectGatewayPath(projectRoot), {force: true})
}

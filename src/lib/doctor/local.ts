/** Checks of the embedded gateway's resources: data dir and its lock, encryption key, local port. */
import {readFileSync, statSync, type Stats} from 'node:fs'
import {createServer} from 'node:net'
import path from 'node:path'

import {projectIdOf} from '../config/project-id.js'
import type {Project} from '../config/index.js'
import {resolveDataDir, resolvePort} from '../embedded/boot.js'
import {KEY_FILE, LOCK_FILE, parseInstallKey, readDataDirLock, redactDatabaseUrl} from '../embedded/inspect.js'
import {probeHealth} from './http.js'
import {type Check, check} from './types.js'

function statOf(file: string): Stats | undefined {
  try {
    return statSync(file)
  } catch {
    return undefined
  }
}

/** The data dir (or DATABASE_URL) and its lock: free, held by a live pid (and its URL), or stale. */
export async function checkDataDir(opts: {env: NodeJS.ProcessEnv; project?: Project}): Promise<Check> {
  const {env, project} = opts
  if (env.DATABASE_URL) {
    return check('data-dir', 'ok', `database: PostgreSQL at ${redactDatabaseUrl(env.DATABASE_URL)} (DATABASE_URL); no data dir is used`)
  }
  const dir = resolveDataDir({env, project})
  const stat = statOf(dir)
  if (!stat) return check('data-dir', 'ok', `data dir ${dir} does not exist yet (created by the first \`lobu run\`)`)
  if (!stat.isDirectory()) return check('data-dir', 'fail', `data dir ${dir} is not a directory`, 'Move it away, or pass --data-dir / set LOBU_DATA_DIR')

  let lock: Awaited<ReturnType<typeof readDataDirLock>>
  try {
    lock = await readDataDirLock(dir)
  } catch (error) {
    return check('data-dir', 'fail', `cannot read ${path.join(dir, LOCK_FILE)}: ${(error as Error).message}`, `Check the permissions of ${dir}`)
  }
  if (!lock) return check('data-dir', 'ok', `data dir ${dir}: not locked (no gateway uses it)`)
  if (lock.alive) {
    const where = lock.url ? ` at ${lock.url}` : ' (port not bound yet)'
    return check('data-dir', 'ok', `data dir ${dir}: in use by a live gateway, pid ${lock.pid}${where}`)
  }
  return check(
    'data-dir',
    'warn',
    `data dir ${dir}: stale lock of pid ${lock.pid}, which is no longer running (the gateway did not shut down cleanly)`,
    `Nothing to do: the next \`lobu run\` takes it over (or delete ${path.join(dir, LOCK_FILE)})`,
  )
}

/** The install key: ENCRYPTION_KEY well-formed, or `<data dir>/encryption.key` 0600 and well-formed. Read only. */
export function checkEncryptionKey(opts: {env: NodeJS.ProcessEnv; project?: Project}): Check {
  const {env, project} = opts
  const generate = 'Generate one with: openssl rand -base64 32'
  if (env.ENCRYPTION_KEY) {
    try {
      parseInstallKey(env.ENCRYPTION_KEY)
      return check('encryption-key', 'ok', 'encryption key: from ENCRYPTION_KEY')
    } catch (error) {
      return check('encryption-key', 'fail', (error as Error).message, generate)
    }
  }
  if (env.DATABASE_URL) {
    return check('encryption-key', 'fail', 'ENCRYPTION_KEY is not set: a gateway on DATABASE_URL needs it', `Set ENCRYPTION_KEY (the same on every instance). ${generate}`)
  }
  const file = path.join(resolveDataDir({env, project}), KEY_FILE)
  const stat = statOf(file)
  if (!stat) return check('encryption-key', 'ok', `encryption key: ${file} is generated on the first boot`)
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(3, '0')
    return check('encryption-key', 'fail', `${file} is mode 0${mode}: readable by other users, so the gateway refuses to start`, `chmod 600 ${file}`)
  }
  try {
    parseInstallKey(readFileSync(file, 'utf8'), file)
  } catch (error) {
    return check('encryption-key', 'fail', (error as Error).message, 'Restore the file from a backup; without it the stored provider keys cannot be decrypted')
  }
  return check('encryption-key', 'ok', `encryption key: ${file}`)
}

/** Whether a TCP port can be bound on a host: bound for an instant and released, nothing else. */
export function portState(port: number, host = '127.0.0.1'): Promise<{free: true} | {free: false; code: string}> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', (error: NodeJS.ErrnoException) => resolve({free: false, code: error.code ?? 'ERROR'}))
    server.listen({port, host, exclusive: true}, () => server.close(() => resolve({free: true})))
  })
}

/** The local port (gateway.port, else 8787): free, a Lobu gateway (this project's or another's), or something else. */
export async function checkPort(opts: {project?: Project; timeoutMs: number}): Promise<Check> {
  const {project} = opts
  const port = resolvePort(undefined, project)
  const source = project?.config.gateway?.port === undefined ? 'the default port' : 'gateway.port of lobu.toml'
  const state = await portState(port)
  if (state.free) return check('port', 'ok', `port ${port} (${source}) is free`)
  if (state.code !== 'EADDRINUSE') {
    return check('port', 'fail', `port ${port} (${source}) cannot be bound on 127.0.0.1: ${state.code}`, 'Choose another port: gateway.port in lobu.toml, or `lobu run --port N`')
  }
  const url = `http://127.0.0.1:${port}`
  const probe = await probeHealth(url, opts.timeoutMs)
  const otherPort = project ? 'set another gateway.port in lobu.toml' : 'use `lobu run --port N`'
  if (probe.kind !== 'gateway') {
    const what = probe.kind === 'other' ? `something that is not a Lobu gateway (GET /health: HTTP ${probe.status})` : `a program that does not answer HTTP (${probe.reason})`
    return check('port', 'fail', `port ${port} (${source}) is in use by ${what}`, `Stop that program, or ${otherPort}`)
  }
  const version = probe.health.version ? ` ${probe.health.version}` : ''
  const served = probe.health.project
  if (probe.health.starting) return check('port', 'ok', `port ${port} is in use by a Lobu gateway that is starting or stopping`)
  if (!project) return check('port', 'ok', `port ${port} is in use by a Lobu gateway${version}${served ? ` serving project "${served}"` : ''}`)
  const expected = projectIdOf(project).id
  if (served === expected) return check('port', 'ok', `port ${port} is in use by the Lobu gateway${version} of this project ("${expected}")`)
  return check(
    'port',
    'warn',
    `port ${port} is in use by a Lobu gateway${version} serving ${served ? `project "${served}"` : 'no project'}, not "${expected}" (this directory)`,
    `Stop that gateway and run \`lobu run\` here, or ${otherPort}`,
  )
}

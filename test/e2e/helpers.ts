/**
 * Helpers for end-to-end tests: run the BUILT CLI (`node bin/run.js`, so `npm run build` first)
 * in an isolated environment.
 *
 *   const sandbox = await createSandbox()          // temp HOME, config and XDG dirs, a work dir
 *   const r = await runLobu(['init', 'demo', '--yes'], {cwd: sandbox.work, sandbox})
 *   expect(r.exitCode).toBe(0)
 *   await sandbox.cleanup()
 *
 * Isolation: the child never sees the caller's HOME, LOBU_*, XDG_*, DATABASE_URL, provider
 * keys (`*_API_KEY`), `*_BASE_URL` or OLLAMA_HOST; it gets CI=1 and NO_COLOR=1. Pass what a
 * test needs through `env` (a value of `undefined` removes a variable).
 */
import {existsSync, rmSync} from 'node:fs'
import {mkdir, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'

import {execa} from 'execa'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = path.join(REPO_ROOT, 'bin', 'run.js')

export interface Sandbox {
  /** Root of everything below; removed by cleanup(). */
  root: string
  /** HOME of the child. */
  home: string
  /** LOBU_CONFIG_DIR of the child. */
  configDir: string
  /** An empty directory to run commands in. */
  work: string
  /** The isolating variables (HOME, LOBU_CONFIG_DIR, XDG_*, CI, NO_COLOR). */
  env: Record<string, string>
  cleanup(): Promise<void>
}

/** A fresh temp HOME / config dir / XDG dirs / work dir. */
export async function createSandbox(): Promise<Sandbox> {
  const root = await mkdtemp(path.join(tmpdir(), 'lobu-e2e-'))
  const dirs = {
    home: path.join(root, 'home'),
    configDir: path.join(root, 'config', 'lobu'),
    xdgConfig: path.join(root, 'xdg', 'config'),
    xdgData: path.join(root, 'xdg', 'data'),
    xdgState: path.join(root, 'xdg', 'state'),
    xdgCache: path.join(root, 'xdg', 'cache'),
    work: path.join(root, 'work'),
  }
  for (const d of Object.values(dirs)) await mkdir(d, {recursive: true})
  return {
    root,
    home: dirs.home,
    configDir: dirs.configDir,
    work: dirs.work,
    env: {
      HOME: dirs.home,
      USERPROFILE: dirs.home,
      LOBU_CONFIG_DIR: dirs.configDir,
      XDG_CONFIG_HOME: dirs.xdgConfig,
      XDG_DATA_HOME: dirs.xdgData,
      XDG_STATE_HOME: dirs.xdgState,
      XDG_CACHE_HOME: dirs.xdgCache,
      CI: '1',
      NO_COLOR: '1',
      OCLIF_SKIP_NEW_VERSION_CHECK: 'true',
    },
    cleanup: () => rm(root, {recursive: true, force: true}),
  }
}

const LEAKY = /^(LOBU_|XDG_)|_API_KEY$|_BASE_URL$|^(DATABASE_URL|OLLAMA_HOST|FORCE_COLOR|NODE_OPTIONS|DEBUG)$/

/** The caller's environment without anything that could reach the child's behaviour. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !LEAKY.test(k)) env[k] = v
  return env
}

export interface RunOptions {
  /** Working directory (default: the sandbox's work dir). */
  cwd?: string
  /** Extra variables for the child; `undefined` removes one. Applied last. */
  env?: Record<string, string | undefined>
  /** Isolation to use; default: one sandbox shared by every call in this test file. */
  sandbox?: Sandbox
  /** Text for the child's stdin (default: none, stdin is closed). */
  input?: string
  /** Kill the child after this many ms (default 60 000). */
  timeout?: number
}

export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON (throws with the output when it is not). */
  json<T = unknown>(): T
}

let shared: Promise<Sandbox> | undefined

/**
 * The sandbox runLobu uses when none is given: created on first use, one per test file
 * (vitest runs each file in its own process), removed when that process exits.
 */
export function defaultSandbox(): Promise<Sandbox> {
  shared ??= createSandbox().then((s) => {
    process.once('exit', () => rmSync(s.root, {recursive: true, force: true}))
    return s
  })
  return shared
}

/** Run `lobu ...args`. Never rejects on a non-zero exit: check `exitCode`. */
export async function runLobu(args: string[], options: RunOptions = {}): Promise<RunResult> {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'commands'))) {
    throw new Error('dist/ is missing: build first (npm run build)')
  }
  const sandbox = options.sandbox ?? (await defaultSandbox())
  const env: Record<string, string> = {...baseEnv(), ...sandbox.env}
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  const r = await execa(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? sandbox.work,
    env,
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    timeout: options.timeout ?? 60_000,
    ...(options.input === undefined ? {stdin: 'ignore' as const} : {input: options.input}),
  })
  const stdout = String(r.stdout ?? '')
  const stderr = String(r.stderr ?? '')
  return {
    exitCode: r.exitCode ?? (r.timedOut ? 124 : 1),
    stdout,
    stderr,
    json<T>() {
      try {
        return JSON.parse(stdout) as T
      } catch {
        throw new Error(`stdout is not JSON (exit ${r.exitCode}):\n${stdout}\n--- stderr ---\n${stderr}`)
      }
    },
  }
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  const {createServer} = await import('node:net')
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address() as {port: number}
      srv.close(() => resolve(port))
    })
  })
}

export interface Spawned {
  /** The child process (execa): `.pid`, `.kill(signal)`, awaitable for its result. */
  child: ReturnType<typeof execa>
  /** Everything written to stderr so far. */
  stderr(): string
  /** Resolves with the exit code once the child has exited. */
  exited: Promise<number>
}

/** Start `lobu ...args` without waiting for it (e.g. `lobu run`). Kill it yourself. */
export async function spawnLobu(args: string[], options: RunOptions = {}): Promise<Spawned> {
  const sandbox = options.sandbox ?? (await defaultSandbox())
  const env: Record<string, string> = {...baseEnv(), ...sandbox.env}
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  const child = execa(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? sandbox.work,
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: options.timeout ?? 120_000,
  })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = child.then((r) => r.exitCode ?? (r.signal ? 128 : 1))
  return {child, stderr: () => err, exited}
}

/** Poll `GET <url>/health` until it answers ok (or the child exits / time runs out). */
export async function waitForHealth(url: string, spawned?: Spawned, timeoutMs = 60_000): Promise<{ok: boolean; version: string; project: string | null}> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void spawned?.exited.then(() => {
    exited = true
  })
  while (Date.now() < deadline) {
    if (exited) throw new Error(`lobu exited before serving:\n${spawned?.stderr()}`)
    try {
      const res = await fetch(`${url}/health`)
      if (res.ok) return (await res.json()) as {ok: boolean; version: string; project: string | null}
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`no answer from ${url}/health within ${timeoutMs} ms:\n${spawned?.stderr()}`)
}

/** Wait until the child's stderr matches `pattern` (e.g. the `lobu run` banner). */
export async function waitForStderr(spawned: Spawned, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void spawned.exited.then(() => {
    exited = true
  })
  while (Date.now() < deadline) {
    if (pattern.test(spawned.stderr())) return
    if (exited) throw new Error(`lobu exited before printing ${pattern}:\n${spawned.stderr()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`lobu did not print ${pattern} within ${timeoutMs} ms:\n${spawned.stderr()}`)
}

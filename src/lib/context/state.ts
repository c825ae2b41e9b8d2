import {join} from 'node:path'

import {Env, configDir, ensureConfigDir, readJsonFile, toJsonFile, writeFileAtomic} from './files.js'

/**
 * Per-context state in `<config dir>/state.json`: the last thread used per (context, agent), for
 * `lobu chat --continue`. Shape: `{version: 1, threads: {"<context>": {"<agent>": {thread, updatedAt}}}}`.
 */
interface StateFile {
  version: 1
  threads: Record<string, Record<string, {thread: string; updatedAt: string}>>
}

type ContextRef = string | {name: string}

function contextName(ctx: ContextRef): string {
  return typeof ctx === 'string' ? ctx : ctx.name
}

function statePath(env: Env): string {
  return join(configDir(env), 'state.json')
}

function readState(env: Env): StateFile {
  const raw = readJsonFile(statePath(env)) as {threads?: unknown} | undefined
  const state: StateFile = {version: 1, threads: {}}
  if (raw && typeof raw === 'object' && raw.threads && typeof raw.threads === 'object') {
    for (const [ctx, agents] of Object.entries(raw.threads as Record<string, unknown>)) {
      if (!agents || typeof agents !== 'object') continue
      const kept: StateFile['threads'][string] = {}
      for (const [agent, entry] of Object.entries(agents as Record<string, unknown>)) {
        const e = entry as {thread?: unknown; updatedAt?: unknown} | null
        if (typeof e?.thread === 'string') kept[agent] = {thread: e.thread, updatedAt: String(e.updatedAt ?? '')}
      }
      state.threads[ctx] = kept
    }
  }
  return state
}

function writeState(state: StateFile, env: Env): void {
  ensureConfigDir(env)
  // Atomic (temp file + rename) but not fsynced: losing the last thread on a power cut is harmless,
  // and the fsync cost is paid on every chat.
  writeFileAtomic(statePath(env), toJsonFile(state), 0o600, {fsync: false})
}

/** Read state.json once to fail early (exit 2, before anything is sent) when it is corrupt. */
export function checkState(env: Env = process.env): void {
  readState(env)
}

/** The thread last used with this context and agent, if any. */
export function getLastThread(ctx: ContextRef, agent: string, env: Env = process.env): string | undefined {
  return readState(env).threads[contextName(ctx)]?.[agent]?.thread
}

/** Remember the thread last used with this context and agent. */
export function setLastThread(ctx: ContextRef, agent: string, thread: string, env: Env = process.env): void {
  const state = readState(env)
  const name = contextName(ctx)
  const agents = (state.threads[name] ??= {})
  if (agents[agent]?.thread === thread) return
  agents[agent] = {thread, updatedAt: new Date().toISOString()}
  writeState(state, env)
}

/** Drop everything remembered for a context (when it is removed). */
export function forgetContextState(ctx: ContextRef, env: Env = process.env): void {
  const state = readState(env)
  const name = contextName(ctx)
  if (!(name in state.threads)) return
  delete state.threads[name]
  writeState(state, env)
}

/**
 * Loading a project: find lobu.toml, parse and validate it, load the root's .env.
 */
import {readFileSync, readdirSync} from 'node:fs'
import path from 'node:path'

import {UsageError} from '../core/errors.js'
import {loadDotEnv, mergeEnv} from './dotenv.js'
import {findConfigFile} from './find.js'
import {ConfigError} from './issues.js'
import {parseConfigSource} from './parse.js'
import type {AgentConfig, Project} from './types.js'

export interface LoadProjectOptions {
  /** Where to start looking (default: process.cwd()); also what issue file names are relative to. */
  cwd?: string
  /** The --config flag. */
  configPath?: string
  /** The process environment (default: process.env): LOBU_CONFIG, and what wins over .env. */
  env?: NodeJS.ProcessEnv
}

/** The project, or undefined when no lobu.toml is found. Throws ConfigError for an invalid file. */
export async function loadProjectIfAny(options: LoadProjectOptions = {}): Promise<Project | undefined> {
  const cwd = path.resolve(options.cwd ?? process.cwd())
  const env = options.env ?? process.env
  const file = findConfigFile({cwd, env, explicit: options.configPath})
  if (file === undefined) return undefined

  const displayFile = path.relative(cwd, file) || path.basename(file)
  const root = path.dirname(file)
  let source: string
  try {
    source = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read ${displayFile}: ${(error as Error).message}`, {code: 'CONFIG_UNREADABLE'})
  }
  const {config, issues, syntaxError} = parseConfigSource(source, displayFile, root)
  if (!config) throw new ConfigError(displayFile, issues, {syntax: syntaxError})
  return {
    config,
    displayFile,
    env: mergeEnv(await loadDotEnv(root), env),
    file,
    root,
    warnings: issues.filter((i) => i.severity === 'warning'),
  }
}

/** The project; throws UsageError when no lobu.toml is found and ConfigError when it is invalid. */
export async function loadProject(options: LoadProjectOptions = {}): Promise<Project> {
  const project = await loadProjectIfAny(options)
  if (project) return project
  const cwd = path.resolve(options.cwd ?? process.cwd())
  throw new UsageError(`no lobu.toml found in ${cwd} or any parent`, {
    code: 'CONFIG_NOT_FOUND',
    hint: 'Create a project with `lobu init`, or name the file with --config PATH',
  })
}

function agentOf(project: Project, agentId: string): AgentConfig {
  const agent = project.config.agents[agentId]
  if (agent) return agent
  const known = Object.keys(project.config.agents)
  throw new UsageError(`no agent \`${agentId}\` in ${project.displayFile ?? project.file}`, {
    code: 'UNKNOWN_AGENT',
    hint: known.length > 0 ? `Agents: ${known.join(', ')}` : 'This project declares no agents',
  })
}

/** The absolute directory of an agent (its `dir` resolved against the project root). */
export function agentDir(project: Project, agentId: string): string {
  return path.resolve(project.root, agentOf(project, agentId).dir)
}

export interface AgentFiles {
  identity?: string
  soul?: string
  user?: string
  /** `skills/*.md` but README.md, sorted by file name; `name` is the file name without `.md`. */
  skills: {name: string; content: string}[]
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/**
 * IDENTITY.md, SOUL.md, USER.md (each optional) and skills/*.md of an agent's dir.
 *
 * The files are small and read synchronously: for a project of 100 agents that is about 10 ms,
 * where promise-based reads (four thread-pool round trips per file) take 25–40 ms even when all
 * agents are read at once.
 */
export async function readAgentFiles(project: Project, agentId: string): Promise<AgentFiles> {
  const dir = agentDir(project, agentId)
  const [identity, soul, user] = ['IDENTITY.md', 'SOUL.md', 'USER.md'].map((name) => readOptional(path.join(dir, name)))
  let names: string[] = []
  try {
    const entries = readdirSync(path.join(dir, 'skills'), {withFileTypes: true})
    // skills/README.md documents the folder (lobu init writes it); it is not a skill.
    names = entries.filter((e) => e.isFile() && e.name.endsWith('.md') && e.name.toLowerCase() !== 'readme.md').map((e) => e.name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const skills = names.map((name) => ({content: readFileSync(path.join(dir, 'skills', name), 'utf8'), name: name.slice(0, -3)}))
  const files: AgentFiles = {skills}
  if (identity !== undefined) files.identity = identity
  if (soul !== undefined) files.soul = soul
  if (user !== undefined) files.user = user
  return files
}

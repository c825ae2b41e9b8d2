/**
 * `lobu init`: scaffold a project (lobu.toml, one agent directory, .env.example, .gitignore,
 * README.md) from `templates/project/`.
 *
 * Three phases, so a bad flag or an existing project never leaves anything on disk:
 *   1. validate every flag and the target directory (UsageError, exit 2);
 *   2. ask what the flags did not fix (only with a prompter) and plan every file in memory;
 *   3. write the plan as one FileTransaction: on any error everything this run created is
 *      removed and every file it changed is restored (OperationError, exit 1).
 */
import * as fs from 'node:fs/promises'
import * as path from 'node:path'

import {DEFAULT_PORT} from '../contract/defaults.js'
import {AGENT_ID_PATTERN} from '../contract/ids.js'
import {CATALOG, type CatalogEntry, catalogEntry} from '../contract/providers.js'
import {LobuError, OperationError, UsageError} from '../core/errors.js'
import {dotenvLine, dotenvValue, mergeDotenv, mergeGitignore} from './files.js'
import {defaultAgentId, makeProjectId, slugify, titleFromId} from './ids.js'
import {type Answers, type Prompter, askQuestions, keyFromEnv, validateKey} from './prompts.js'
import {render, tomlEscape} from './render.js'
import {readTemplate} from './templates.js'
import {FileTransaction} from './writer.js'

export type {Prompter} from './prompts.js'

export const DEFAULT_PROVIDER = 'openai'
/** Suggested when `lobu init` asks for a directory. */
export const DEFAULT_DIRECTORY = 'my-agent'

export interface InitOptions {
  /** Where relative paths start (the user's working directory). */
  cwd: string
  /** Target directory, relative to cwd; `.` is cwd itself. */
  name?: string
  /** Same as name `.`. */
  here?: boolean
  agent?: string
  provider?: string
  model?: string
  /** 1-65535; a string (a flag value) must be all digits. */
  port?: number | string
  /** Overwrite files that exist (an existing lobu.toml is an error without it). */
  force?: boolean
  /** Where provider key variables are looked up (default: process.env). */
  env?: NodeJS.ProcessEnv
  /** Ask questions through this; without one, flags and defaults are used as they are. */
  prompter?: Prompter
  /** Fixed 6-hex suffix of the project id (tests); random by default. */
  projectSuffix?: string
  /** Called before each file is written, with its path relative to the project (tests inject failures here). */
  beforeWrite?: (relPath: string) => void | Promise<void>
}

/** What `lobu init --json` prints. */
export interface InitResult {
  /** Absolute path of the project root. */
  dir: string
  projectId: string
  agent: string
  provider: string
  model: string
  /** Files created or changed, relative to dir, `/`-separated. */
  files: string[]
}

export type FileAction = 'created' | 'overwritten' | 'updated' | 'kept'

export interface InitFile {
  path: string
  action: FileAction
  note?: string
}

export interface InitOutcome {
  result: InitResult
  /** Every file considered, with what happened to it (kept ones included). */
  files: InitFile[]
  /** The directory as the user named it, for `cd`; undefined for the current directory. */
  cdPath?: string
  /** The provider's key variable (undefined for keyless providers such as ollama). */
  keyVariable?: string
  /** True when the key was written to .env or is already available (environment or .env). */
  keyReady: boolean
  port: number
}

// ---------------------------------------------------------------------------------------------
// Validation (phase 1)

const AGENT_ID_HINT = 'An agent id is 1-63 lowercase letters, digits and hyphens, starting with a letter or digit.'

export function validateAgentId(id: string): true | string {
  if (AGENT_ID_PATTERN.test(id)) return true
  const suggestion = slugify(id)
  return `invalid agent id "${id}"${suggestion ? ` (try "${suggestion}")` : ''}`
}

function requireAgentId(id: string): string {
  if (AGENT_ID_PATTERN.test(id)) return id
  const suggestion = slugify(id)
  throw new UsageError(`invalid agent id "${id}"`, {
    hint: suggestion ? `${AGENT_ID_HINT} Try: --agent ${suggestion}` : AGENT_ID_HINT,
  })
}

function editDistance(a: string, b: string): number {
  const row = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]!
}

function requireProvider(id: string): CatalogEntry {
  const entry = catalogEntry(id)
  if (entry) return entry
  const ids = CATALOG.map((e) => e.id)
  const close = ids.filter((candidate) => editDistance(id.toLowerCase(), candidate) <= 2)
  const known = `Known providers: ${ids.join(', ')}.`
  throw new UsageError(`unknown provider "${id}"`, {
    hint: close.length > 0 ? `Did you mean --provider ${close[0]}? ${known}` : `${known} Others can be added to lobu.toml with base_url.`,
  })
}

function requireModel(model: string): string {
  const trimmed = model.trim()
  if (trimmed === '' || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new UsageError(`invalid model "${model}"`, {hint: 'Give the model id the provider expects, e.g. --model gpt-4o-mini'})
  }
  return trimmed
}

function requirePort(value: number | string): number {
  const port = typeof value === 'string' ? (/^\d{1,5}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN) : value
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new UsageError(`invalid port ${JSON.stringify(String(value))}`, {hint: '--port takes an integer from 1 to 65535 (default 8787).'})
  }
  return port
}

async function statOrUndefined(p: string) {
  try {
    return await fs.stat(p)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** A path in messages: as the user gave it, relative to cwd. */
function shown(cwd: string, p: string): string {
  const rel = path.relative(cwd, p)
  if (rel === '') return '.'
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : `./${rel}`
}

async function checkTarget(cwd: string, dir: string, force: boolean): Promise<void> {
  const stat = await statOrUndefined(dir)
  if (!stat) return
  if (!stat.isDirectory()) {
    throw new UsageError(`${shown(cwd, dir)} exists and is not a directory`, {hint: 'Pick another project name.'})
  }
  const toml = path.join(dir, 'lobu.toml')
  if (!force && (await statOrUndefined(toml))) {
    throw new UsageError(`${shown(cwd, toml)} already exists; nothing was written`, {
      hint: 'Use --force to overwrite the project files, or pick another directory.',
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Planning (phase 2)

interface PlannedFile {
  rel: string
  action: FileAction
  content?: string
  mode?: number
  note?: string
}

function oneLine(s: string): string {
  return s.replaceAll(/[\u0000-\u001f\u007f]+/g, ' ')
}

async function planFile(
  dir: string,
  rel: string,
  content: string,
  opts: {force: boolean; mode?: number; merge?: (existing: string) => {content: string; note?: string}},
): Promise<PlannedFile> {
  const abs = path.join(dir, ...rel.split('/'))
  let stat
  try {
    stat = await fs.lstat(abs)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  if (!stat) return {rel, action: 'created', content, mode: opts.mode}
  if (!stat.isFile()) {
    throw new UsageError(`${rel} exists in the project directory and is not a regular file; nothing was written`, {
      hint: 'Move it away and run lobu init again.',
    })
  }
  if (opts.merge) {
    const existing = await fs.readFile(abs, 'utf8')
    const merged = opts.merge(existing)
    if (merged.content === existing) return {rel, action: 'kept', note: merged.note ?? 'already up to date'}
    return {rel, action: 'updated', content: merged.content, mode: opts.mode, note: merged.note}
  }
  if (!opts.force) return {rel, action: 'kept', note: 'exists; --force overwrites it'}
  return {rel, action: 'overwritten', content, mode: opts.mode}
}

function keySetupText(entry: CatalogEntry, model: string): string {
  const keyVar = entry.keyEnv[0]
  if (keyVar === undefined) {
    return [
      `Start Ollama and pull the model: \`ollama pull ${model}\`. Set \`OLLAMA_HOST\` in \`.env\` if`,
      'Ollama does not listen on 127.0.0.1:11434.',
    ].join('\n')
  }
  return [
    `Put your \`${keyVar}\` in \`.env\` (see \`.env.example\`) or export it in your shell;`,
    'a variable set in the shell wins over `.env`. `.env` is git-ignored: never commit keys.',
  ].join('\n')
}

// ---------------------------------------------------------------------------------------------

export async function initProject(options: InitOptions): Promise<InitOutcome> {
  const env = options.env ?? process.env
  const force = Boolean(options.force)

  // Phase 1: every flag, before any question and any write.
  if (options.agent !== undefined) requireAgentId(options.agent)
  const flagProvider = options.provider === undefined ? undefined : requireProvider(options.provider)
  const flagModel = options.model === undefined ? undefined : requireModel(options.model)
  const port = requirePort(options.port ?? DEFAULT_PORT)

  let name = options.name
  if (options.here) {
    if (name !== undefined && name !== '.') {
      throw new UsageError(`--here and the directory "${name}" cannot be used together`, {
        hint: 'Use lobu init NAME for a new directory, or lobu init --here for the current one.',
      })
    }
    name = '.'
  }
  if (name === undefined) {
    if (!options.prompter) {
      throw new UsageError('missing the project directory', {
        hint: 'Run lobu init NAME, or lobu init . (or --here) to use the current directory.',
      })
    }
    name = (
      await options.prompter.input({
        message: 'Project directory',
        default: DEFAULT_DIRECTORY,
        validate: (v) => (v.trim() === '' ? 'enter a directory name, or . for the current directory' : true),
      })
    ).trim()
  }
  if (name.trim() === '') throw new UsageError('the project directory name is empty', {hint: 'Run lobu init NAME.'})

  const dir = path.resolve(options.cwd, name)
  await checkTarget(options.cwd, dir, force)

  const dirName = path.basename(dir)
  let answers: Answers
  if (options.prompter) {
    answers = await askQuestions(options.prompter, {
      agent: options.agent,
      provider: flagProvider?.id,
      model: flagModel,
      agentDefault: defaultAgentId(dirName),
      env,
      validateAgent: validateAgentId,
    })
  } else {
    const provider = flagProvider ?? catalogEntry(DEFAULT_PROVIDER)!
    answers = {
      agent: options.agent ?? defaultAgentId(dirName),
      provider,
      model: flagModel ?? provider.defaultModel,
      key: keyFromEnv(provider, env)?.value,
    }
  }
  // Answers from a prompter are validated there; check again so a faulty prompter cannot slip through.
  requireAgentId(answers.agent)
  requireModel(answers.model)
  if (answers.key !== undefined && validateKey(answers.key) !== true) throw new UsageError('the key must be a single line')

  // Phase 2: every file, in memory.
  const {agent, provider, model} = answers
  const projectId = makeProjectId(dirName, options.projectSuffix)
  const keyVariable = provider.keyEnv[0]
  const vars = {
    projectName: oneLine(dirName) || projectId,
    projectId,
    port,
    agentId: agent,
    agentName: titleFromId(agent),
    agentDescription: 'A helpful assistant',
    providerId: provider.id,
    model,
    providerKeyLine: keyVariable
      ? `key = "$${keyVariable}"  # read from the environment or .env; never write the key itself here`
      : '# no key: Ollama runs on your machine (set OLLAMA_HOST when it is not on 127.0.0.1:11434)',
    envExampleLine: keyVariable ? `${keyVariable}=` : '# OLLAMA_HOST=127.0.0.1:11434',
    envLine: keyVariable && answers.key !== undefined ? dotenvLine(keyVariable, answers.key) : '',
    keySetup: keySetupText(provider, model),
  }
  const tomlVars = {
    ...vars,
    projectName: tomlEscape(vars.projectName),
    agentName: tomlEscape(vars.agentName),
    agentDescription: tomlEscape(vars.agentDescription),
    model: tomlEscape(model),
  }

  const agentDir = `agents/${agent}`
  const planned: PlannedFile[] = []
  planned.push(await planFile(dir, 'lobu.toml', render(await readTemplate('lobu.toml.tmpl'), tomlVars, 'lobu.toml.tmpl'), {force}))
  for (const file of ['IDENTITY.md', 'SOUL.md', 'USER.md', 'skills/README.md']) {
    const template = `agent/${file}`
    planned.push(await planFile(dir, `${agentDir}/${file}`, render(await readTemplate(template), vars, template), {force}))
  }
  planned.push(
    await planFile(dir, '.env.example', render(await readTemplate('env.example'), vars, 'env.example'), {
      force,
      merge: (existing) => {
        if (!keyVariable) return {content: existing}
        const merged = mergeDotenv(existing, keyVariable, vars.envExampleLine, {commented: true})
        return {content: merged.content, note: merged.changed.length > 0 ? `added ${keyVariable}=` : undefined}
      },
    }),
  )

  let keyReady = keyVariable === undefined || keyFromEnv(provider, env) !== undefined
  if (keyVariable && answers.key !== undefined) {
    planned.push(
      await planFile(dir, '.env', render(await readTemplate('env'), vars, 'env'), {
        force,
        mode: 0o600,
        merge: (existing) => {
          const merged = mergeDotenv(existing, keyVariable, vars.envLine, {replace: force})
          return merged.changed.length > 0
            ? {content: merged.content, note: `set ${keyVariable}`}
            : {content: existing, note: `already sets ${keyVariable}; --force replaces it`}
        },
      }),
    )
    keyReady = true
  } else if (keyVariable) {
    const existingEnv = await fs.readFile(path.join(dir, '.env'), 'utf8').catch(() => '')
    if (dotenvValue(existingEnv, keyVariable)) keyReady = true
  }

  const gitignoreTemplate = render(await readTemplate('gitignore'), vars, 'gitignore')
  planned.push(
    await planFile(dir, '.gitignore', gitignoreTemplate, {
      force,
      merge: (existing) => {
        const merged = mergeGitignore(existing, gitignoreTemplate)
        return {content: merged.content, note: merged.changed.length > 0 ? `added ${merged.changed.join(', ')}` : undefined}
      },
    }),
  )
  planned.push(await planFile(dir, 'README.md', render(await readTemplate('README.md'), vars, 'README.md'), {force}))

  // Phase 3: write. lobu.toml goes last, so even a killed process leaves no project behind
  // that would need --force to redo.
  const order = [...planned.filter((p) => p.rel !== 'lobu.toml'), ...planned.filter((p) => p.rel === 'lobu.toml')]
  const tx = new FileTransaction()
  try {
    await tx.ensureDir(dir)
    await tx.ensureDir(path.join(dir, 'agents', agent, 'skills'))
    for (const file of order) {
      if (file.action === 'kept' || file.content === undefined) continue
      await options.beforeWrite?.(file.rel)
      const abs = path.join(dir, ...file.rel.split('/'))
      if (file.action === 'created') await tx.create(abs, file.content, file.mode)
      else await tx.replace(abs, file.content, file.mode)
    }
  } catch (error) {
    await tx.rollback()
    if (error instanceof LobuError) throw error
    const message = error instanceof Error ? error.message : String(error)
    throw new OperationError(`could not write the project in ${shown(options.cwd, dir)}: ${message}`, {
      hint: 'Nothing was left behind. Check that the directory is writable and try again.',
      cause: error,
    })
  }

  return {
    result: {
      dir,
      projectId,
      agent,
      provider: provider.id,
      model,
      files: planned.filter((p) => p.action !== 'kept').map((p) => p.rel),
    },
    files: planned.map(({rel, action, note}) => ({path: rel, action, ...(note === undefined ? {} : {note})})),
    cdPath: name === '.' || path.resolve(options.cwd, name) === path.resolve(options.cwd) ? undefined : name,
    keyVariable,
    keyReady,
    port,
  }
}

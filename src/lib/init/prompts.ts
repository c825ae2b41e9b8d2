/**
 * The questions `lobu init` asks on a terminal. The questions are written against a small
 * `Prompter` interface so tests can answer them; `inquirerPrompter()` is the real one
 * (`@inquirer/prompts`, loaded only when a prompt is actually shown, writing to stderr).
 */
import {CATALOG, type CatalogEntry} from '../contract/providers.js'
import {LobuError} from '../core/errors.js'

export type Validate = (value: string) => true | string

export interface Prompter {
  input(q: {message: string; default?: string; validate?: Validate}): Promise<string>
  select(q: {message: string; choices: {name: string; value: string}[]; default?: string}): Promise<string>
  confirm(q: {message: string; default?: boolean}): Promise<boolean>
  password(q: {message: string; validate?: Validate}): Promise<string>
}

/** The real prompter. Ctrl-C while a question is open exits 130 with nothing written. */
export async function inquirerPrompter(): Promise<Prompter> {
  const inquirer = await import('@inquirer/prompts')
  const context = {output: process.stderr}
  const cancellable = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p
    } catch (error) {
      if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError')) {
        throw new LobuError('cancelled; nothing was written', 'interrupted', {code: 'CANCELLED'})
      }
      throw error
    }
  }
  return {
    input: (q) => cancellable(inquirer.input(q, context)),
    select: (q) => cancellable(inquirer.select({...q, pageSize: Math.max(7, q.choices.length)}, context)),
    confirm: (q) => cancellable(inquirer.confirm(q, context)),
    password: (q) => cancellable(inquirer.password({...q, mask: '*'}, context)),
  }
}

export interface QuestionState {
  /** Values fixed by flags: their questions are skipped. */
  agent?: string
  provider?: string
  model?: string
  /** Default agent id (from the directory name). */
  agentDefault: string
  env: NodeJS.ProcessEnv
  validateAgent: Validate
}

export interface Answers {
  agent: string
  provider: CatalogEntry
  model: string
  /** The key to write into .env, if any. */
  key?: string
}

/** The first of the provider's key variables that is set in `env`, with its value. */
export function keyFromEnv(entry: CatalogEntry, env: NodeJS.ProcessEnv): {name: string; value: string} | undefined {
  for (const name of entry.keyEnv) {
    const value = env[name]
    if (value) return {name, value}
  }
  return undefined
}

export function validateKey(value: string): true | string {
  if (/[\r\n]/.test(value)) return 'the key must be a single line'
  return true
}

/** Ask what the flags did not fix. */
export async function askQuestions(prompter: Prompter, state: QuestionState): Promise<Answers> {
  const agent =
    state.agent ??
    (await prompter.input({message: 'Agent id', default: state.agentDefault, validate: state.validateAgent})).trim()

  let providerId = state.provider
  if (providerId === undefined) {
    providerId = await prompter.select({
      message: 'Model provider',
      default: 'openai',
      choices: CATALOG.map((e) => {
        const found = keyFromEnv(e, state.env)
        const note = e.keyEnv.length === 0 ? 'no key, runs locally' : found ? `${found.name} is set` : e.keyEnv[0]
        return {name: `${e.id.padEnd(11)} ${e.defaultModel}  (${note})`, value: e.id}
      }),
    })
  }
  const provider = CATALOG.find((e) => e.id === providerId)
  if (!provider) throw new Error(`unknown provider ${providerId}`)

  const model =
    state.model ??
    (
      await prompter.input({
        message: 'Model',
        default: provider.defaultModel,
        validate: (v) => (v.trim() === '' ? 'enter a model id' : true),
      })
    ).trim()

  const keyVar = provider.keyEnv[0]
  if (keyVar === undefined) return {agent, provider, model}

  const found = keyFromEnv(provider, state.env)
  const save = await prompter.confirm({
    message: found ? `Save ${found.name} from your environment into .env?` : `Save your ${keyVar} into .env?`,
    default: Boolean(found),
  })
  if (!save) return {agent, provider, model}

  const entered = await prompter.password({
    message: found ? `${keyVar} (leave empty to use the value from your environment)` : keyVar,
    validate: (v) => {
      if (v === '' && !found) return `enter your ${keyVar}`
      return validateKey(v)
    },
  })
  return {agent, provider, model, key: entered === '' ? found?.value : entered}
}

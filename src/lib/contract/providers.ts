/**
 * The provider catalog (docs/lobu-toml.md lists it). Kept dependency-free: the CLI (init, validate,
 * banner) imports it on cheap paths.
 */
export type Dialect = 'openai' | 'anthropic' | 'gemini'

export interface CatalogEntry {
  id: string
  /** Environment variables that hold the key, first one preferred. Empty for keyless providers. */
  keyEnv: string[]
  baseUrl: string
  dialect: Dialect
  defaultModel: string
}

export const CATALOG: readonly CatalogEntry[] = [
  {id: 'anthropic', keyEnv: ['ANTHROPIC_API_KEY'], baseUrl: 'https://api.anthropic.com', dialect: 'anthropic', defaultModel: 'claude-sonnet-4-5'},
  {id: 'openai', keyEnv: ['OPENAI_API_KEY'], baseUrl: 'https://api.openai.com/v1', dialect: 'openai', defaultModel: 'gpt-4o-mini'},
  {id: 'gemini', keyEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'], baseUrl: 'https://generativelanguage.googleapis.com/v1beta', dialect: 'gemini', defaultModel: 'gemini-2.5-flash'},
  {id: 'openrouter', keyEnv: ['OPENROUTER_API_KEY'], baseUrl: 'https://openrouter.ai/api/v1', dialect: 'openai', defaultModel: 'openai/gpt-4o-mini'},
  {id: 'groq', keyEnv: ['GROQ_API_KEY'], baseUrl: 'https://api.groq.com/openai/v1', dialect: 'openai', defaultModel: 'llama-3.3-70b-versatile'},
  {id: 'mistral', keyEnv: ['MISTRAL_API_KEY'], baseUrl: 'https://api.mistral.ai/v1', dialect: 'openai', defaultModel: 'mistral-small-latest'},
  {id: 'deepseek', keyEnv: ['DEEPSEEK_API_KEY'], baseUrl: 'https://api.deepseek.com/v1', dialect: 'openai', defaultModel: 'deepseek-chat'},
  {id: 'z-ai', keyEnv: ['Z_AI_API_KEY'], baseUrl: 'https://api.z.ai/api/paas/v4', dialect: 'openai', defaultModel: 'glm-4.6'},
  {id: 'ollama', keyEnv: [], baseUrl: 'http://127.0.0.1:11434/v1', dialect: 'openai', defaultModel: 'llama3.2'},
]

export function catalogEntry(id: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id === id)
}

/** `<ID>_BASE_URL`: upper-cased id with `-` turned into `_` (z-ai → Z_AI_BASE_URL). */
export function baseUrlEnvName(id: string): string {
  return `${id.toUpperCase().replaceAll('-', '_')}_BASE_URL`
}

/**
 * The base URL for a provider: `base_url` from lobu.toml wins, then `<ID>_BASE_URL`, then
 * (ollama) `OLLAMA_HOST`, then the catalog. Returns undefined for an unknown id without base_url.
 */
export function resolveBaseUrl(id: string, declared: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (declared) return declared
  const fromEnv = env[baseUrlEnvName(id)]
  if (fromEnv) return fromEnv
  if (id === 'ollama' && env.OLLAMA_HOST) {
    const host = env.OLLAMA_HOST.startsWith('http') ? env.OLLAMA_HOST : `http://${env.OLLAMA_HOST}`
    return host.replace(/\/+$/, '') + '/v1'
  }
  return catalogEntry(id)?.baseUrl
}

/** The key variable of a system provider that is set in env, if any (ollama: OLLAMA_HOST). */
export function systemKeyVariable(entry: CatalogEntry, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (entry.id === 'ollama') return env.OLLAMA_HOST ? 'OLLAMA_HOST' : undefined
  return entry.keyEnv.find((name) => Boolean(env[name]))
}

import {readFileSync} from 'node:fs'

import {z} from 'zod'
import {describe, expect, it} from 'vitest'

import {loadProject, validateProject} from '../../../src/lib/config/index.js'
import {configSchema} from '../../../src/lib/config/schema.js'
import {CATALOG} from '../../../src/lib/contract/providers.js'
import {tempProject} from './helpers.js'

/** docs/lobu-toml.md is checked against the code: its example, its keys, its catalog. */
const DOC = readFileSync(new URL('../../../docs/lobu-toml.md', import.meta.url), 'utf8')
const EXAMPLE = /```toml\n([\s\S]*?)```/.exec(DOC)![1]!

/** Every key path of the schema, `agents.*.providers[].id` style (records as `*`). */
function keysOf(schema: z.ZodTypeAny, prefix: string, out: string[]): string[] {
  for (;;) {
    if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) schema = schema.unwrap()
    else if (schema instanceof z.ZodEffects) schema = schema.innerType()
    else break
  }
  if (schema instanceof z.ZodObject) {
    for (const [key, value] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
      const at = prefix ? `${prefix}.${key}` : key
      out.push(at)
      keysOf(value, at, out)
    }
  } else if (schema instanceof z.ZodRecord) {
    keysOf(schema.valueSchema as z.ZodTypeAny, `${prefix}.*`, out)
  } else if (schema instanceof z.ZodArray) {
    keysOf(schema.element as z.ZodTypeAny, `${prefix}[]`, out)
  }
  return out
}

describe('docs/lobu-toml.md', () => {
  it('its example validates without an error or a warning once its variables are set', async () => {
    const root = await tempProject({'agents/support/': '', 'lobu.toml': EXAMPLE})
    const env = {OPENAI_API_KEY: 'sk-1', ANTHROPIC_API_KEY: 'sk-2', DOCS_MCP_TOKEN: 't'}
    const {error, report} = await validateProject({cwd: root, env})
    expect(error).toBeUndefined()
    expect(report).toMatchObject({agents: ['support'], errors: [], valid: true, warnings: []})
  })

  it('its example gets the defaults the page states', async () => {
    const root = await tempProject({'agents/support/': '', 'lobu.toml': EXAMPLE})
    const {config} = await loadProject({cwd: root, env: {}})
    const agent = config.agents.support!
    expect(agent.providers.map((p) => `${p.id} ${p.model}`)).toEqual(['openai gpt-4o-mini', 'anthropic claude-sonnet-4-5', 'local-llm qwen2.5-7b-instruct'])
    expect(agent.skills?.mcp?.docs).toMatchObject({type: 'streamable-http', auth_scope: 'user'})
    expect(agent.skills?.mcp?.files).toMatchObject({type: 'stdio', auth_scope: 'user'})
  })

  it('documents every key of the schema', () => {
    const keys = keysOf(configSchema, '', [])
    expect(keys.length).toBeGreaterThan(30)
    // Every name in a code span of the page: `skills.mcp.<server>` names skills and mcp.
    const named = new Set([...DOC.matchAll(/`([^`\n]+)`/g)].flatMap((m) => m[1]!.split(/[^A-Za-z0-9_]+/)))
    const missing = keys.map((k) => k.split(/[.[\]*]+/).filter(Boolean).at(-1)!).filter((last) => !named.has(last))
    expect(missing).toEqual([])
  })

  it('lists the provider catalog as the code has it', () => {
    for (const entry of CATALOG) {
      const row = DOC.split('\n').find((line) => line.startsWith(`| \`${entry.id}\` |`))
      expect(row, entry.id).toBeDefined()
      expect(row).toContain(`\`${entry.defaultModel}\``)
      for (const variable of entry.keyEnv) expect(row).toContain(`\`${variable}\``)
    }
  })
})

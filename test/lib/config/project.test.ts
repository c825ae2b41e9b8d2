import {mkdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {EXIT, exitCodeOf} from '../../../src/lib/cli/exit.js'
import {UsageError} from '../../../src/lib/core/errors.js'
import {
  ConfigError,
  agentDir,
  findConfigFile,
  loadProject,
  loadProjectIfAny,
  readAgentFiles,
} from '../../../src/lib/config/index.js'
import {AGENT, tempProject} from './helpers.js'

const VALID = `[agents.support]\n${AGENT}`

describe('findConfigFile', () => {
  it('walks up from cwd to the nearest lobu.toml', async () => {
    const root = await tempProject({'a/b/c/': '', 'a/lobu.toml': '', 'lobu.toml': ''})
    expect(findConfigFile({cwd: path.join(root, 'a/b/c'), env: {}})).toBe(path.join(root, 'a/lobu.toml'))
    expect(findConfigFile({cwd: root, env: {}})).toBe(path.join(root, 'lobu.toml'))
  })

  it('returns undefined when there is none up to the filesystem root', async () => {
    const root = await tempProject({'empty/': ''})
    // (a lobu.toml in a parent of the temp dir would make this test meaningless)
    expect(findConfigFile({cwd: path.dirname(root), env: {}})).toBeUndefined()
    expect(findConfigFile({cwd: path.join(root, 'empty'), env: {}})).toBeUndefined()
  })

  it('--config > LOBU_CONFIG > walking up', async () => {
    const root = await tempProject({'explicit.toml': '', 'from-env.toml': '', 'lobu.toml': ''})
    const env = {LOBU_CONFIG: 'from-env.toml'}
    expect(findConfigFile({cwd: root, env, explicit: 'explicit.toml'})).toBe(path.join(root, 'explicit.toml'))
    expect(findConfigFile({cwd: root, env})).toBe(path.join(root, 'from-env.toml'))
    expect(findConfigFile({cwd: root, env: {}})).toBe(path.join(root, 'lobu.toml'))
  })

  it('a named directory stands for its lobu.toml', async () => {
    const root = await tempProject({'proj/lobu.toml': ''})
    expect(findConfigFile({cwd: root, env: {}, explicit: 'proj'})).toBe(path.join(root, 'proj/lobu.toml'))
  })

  it('a named path that does not exist is a usage error naming it', async () => {
    const root = await tempProject({'lobu.toml': ''})
    expect(() => findConfigFile({cwd: root, env: {}, explicit: 'nope.toml'})).toThrow(UsageError)
    try {
      findConfigFile({cwd: root, env: {}, explicit: 'nope.toml'})
    } catch (error) {
      expect(exitCodeOf((error as UsageError))).toBe(EXIT.usage)
      expect((error as UsageError).message).toBe('config file not found: nope.toml (from --config)')
    }
    expect(() => findConfigFile({cwd: root, env: {LOBU_CONFIG: '/no/such/lobu.toml'}})).toThrow(
      'config file not found: /no/such/lobu.toml (from LOBU_CONFIG)',
    )
  })
})

describe('loadProject / loadProjectIfAny', () => {
  it('loads a valid project: root, file, display name, config, warnings', async () => {
    const root = await tempProject({'lobu.toml': `[agents.support]\n${AGENT}worker = {}\n`, 'sub/': ''})
    const project = await loadProject({cwd: path.join(root, 'sub'), env: {}})
    expect(project.root).toBe(root)
    expect(project.file).toBe(path.join(root, 'lobu.toml'))
    expect(project.displayFile).toBe('../lobu.toml')
    expect(Object.keys(project.config.agents)).toEqual(['support'])
    expect(project.warnings.map((w) => `${w.file}:${w.line}:${w.col} ${w.path}`)).toEqual(['../lobu.toml:4:1 agents.support.worker'])
  })

  it('throws a usage error with the `lobu init` hint when no lobu.toml is found', async () => {
    const root = await tempProject({'empty/': ''})
    const cwd = path.join(root, 'empty')
    await expect(loadProject({cwd, env: {}})).rejects.toMatchObject({
      kind: 'usage',
      hint: expect.stringContaining('lobu init'),
      message: `no lobu.toml found in ${cwd} or any parent`,
    })
    expect(await loadProjectIfAny({cwd, env: {}})).toBeUndefined()
  })

  it('throws ConfigError listing every error (also from loadProjectIfAny)', async () => {
    const root = await tempProject({'lobu.toml': '[gateway]\nport = 0\n[agents.X]\nname = ""\ndir = "./missing"\nmemory = 1\n'})
    for (const load of [loadProject, loadProjectIfAny]) {
      const error = await load({cwd: root, env: {}}).catch((error_: unknown) => error_)
      expect(error).toBeInstanceOf(ConfigError)
      const configError = error as ConfigError
      expect(exitCodeOf(configError)).toBe(EXIT.usage)
      expect(configError.code).toBe('CONFIG_INVALID')
      expect(configError.message).toBe('lobu.toml has 5 errors')
      expect(configError.details).toHaveLength(5)
      expect(configError.details[0]).toBe('lobu.toml:2:8  gateway.port  expected an integer from 1 to 65535, got 0')
      expect(configError.hint).toContain('lobu validate')
    }
  })

  it('a TOML syntax error is a ConfigError with its position', async () => {
    const root = await tempProject({'lobu.toml': '[agents.support\nname = "x"\n'})
    const error = (await loadProject({cwd: root, env: {}}).catch((error_: unknown) => error_)) as ConfigError
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toBe('lobu.toml is not valid TOML')
    expect(error.details).toHaveLength(1)
    expect(error.details[0]).toMatch(/^lobu\.toml:1:\d+ {2}TOML syntax error: /)
  })
})

describe('readAgentFiles', () => {
  it('reads IDENTITY.md, SOUL.md, USER.md and skills/*.md (but README.md) sorted by name', async () => {
    const root = await tempProject({
      'agents/support/IDENTITY.md': 'I am Support.',
      'agents/support/USER.md': 'The user.',
      'agents/support/skills/b-search.md': 'B',
      'agents/support/skills/a-billing.md': 'A',
      'agents/support/skills/notes.txt': 'ignored',
      'agents/support/skills/README.md': 'documents the folder, not a skill',
      'agents/support/skills/nested/': '',
      'lobu.toml': '[agents.support]\nname = "S"\ndir = "./agents/support"\n[agents.bare]\nname = "B"\ndir = "agents/bare"\n',
    })
    await mkdir(path.join(root, 'agents/bare'))
    const project = await loadProject({cwd: root, env: {}})
    expect(await readAgentFiles(project, 'support')).toEqual({
      identity: 'I am Support.',
      skills: [
        {content: 'A', name: 'a-billing'},
        {content: 'B', name: 'b-search'},
      ],
      user: 'The user.',
    })
    expect(await readAgentFiles(project, 'bare')).toEqual({skills: []})
    expect(agentDir(project, 'support')).toBe(path.join(root, 'agents/support'))
    await writeFile(path.join(root, 'agents/support/SOUL.md'), 'Kind.')
    expect((await readAgentFiles(project, 'support')).soul).toBe('Kind.')
  })

  it('an unknown agent is a usage error listing the known ones', async () => {
    const root = await tempProject({'lobu.toml': VALID})
    const project = await loadProject({cwd: root, env: {}})
    await expect(readAgentFiles(project, 'nope')).rejects.toMatchObject({kind: 'usage', hint: 'Agents: support'})
  })
})

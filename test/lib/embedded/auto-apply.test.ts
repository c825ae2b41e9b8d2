import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {buildDesiredState} from '../../../src/lib/apply/desired-state.js'
import {APPLY_PATH, PLAN_PATH} from '../../../src/lib/apply/run.js'
import {loadProject} from '../../../src/lib/config/index.js'
import type {Plan, PlanChange} from '../../../src/lib/contract/apply.js'
import {autoApply} from '../../../src/lib/embedded/auto-apply.js'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
})

async function project(withId: boolean) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lobu-auto-apply-'))
  dirs.push(root)
  await mkdir(path.join(root, 'agents/support'), {recursive: true})
  const id = withId ? '[project]\nid = "desk-3f9a2c"\n\n' : ''
  await writeFile(path.join(root, 'lobu.toml'), `${id}[agents.support]\nname = "Support"\ndir = "./agents/support"\n\n[[agents.support.providers]]\nid = "openai"\nmodel = "gpt-4o-mini"\nkey = "$OPENAI_API_KEY"\n`)
  return loadProject({cwd: root, env: {}})
}

function fake(changes: PlanChange[]) {
  const summary = {create: 0, update: 0, delete: 0, noop: 0}
  for (const c of changes) summary[c.action]++
  const plan: Plan = {planId: 'p1', fingerprint: '0'.repeat(64), project: 'x', prune: false, changes, summary, orphans: [], warnings: []}
  const requests: {path: string; body: any}[] = []
  return {
    requests,
    async post<T>(p: string, body?: unknown): Promise<T> {
      requests.push({path: p, body})
      return (p === PLAN_PATH ? plan : {applied: true, project: 'x', changes, summary, fingerprint: '1'.repeat(64)}) as T
    },
  }
}

const gateway = {url: 'http://127.0.0.1:1', origin: 'http://127.0.0.1:1'}

describe('autoApply (lobu run, an auto-booted lobu chat)', () => {
  const changes: PlanChange[] = [
    {kind: 'agent', id: 'support', action: 'update', fields: [{path: 'providers[0].model', before: 'gpt-4o', after: 'gpt-4o-mini'}]},
    {kind: 'agent', id: 'old', action: 'delete', fields: []},
    {kind: 'secret', id: 'OPENAI_API_KEY', action: 'noop', fields: []},
  ]

  it('applies without asking, prunes with a project id and logs one line per agent', async () => {
    const client = fake(changes)
    const lines: string[] = []
    const p = await project(true)
    const desired = await buildDesiredState(p, {OPENAI_API_KEY: 'sk-x'})
    const result = await autoApply({gateway, token: 't', project: p, desired, log: (l) => lines.push(l), client})
    expect(client.requests.map((r) => r.path)).toEqual([PLAN_PATH, APPLY_PATH])
    expect(client.requests[0]!.body).toMatchObject({project: 'desk-3f9a2c', prune: true, secrets: {OPENAI_API_KEY: 'sk-x'}})
    expect(lines).toEqual(['applied agent support: updated (providers[0].model)', 'applied agent old: deleted'])
    expect(result).toEqual({agents: [{id: 'support', action: 'update'}, {id: 'old', action: 'delete'}], summary: {create: 0, update: 1, delete: 1, noop: 1}})
  })

  it('never prunes a project without an id', async () => {
    const client = fake(changes)
    const p = await project(false)
    await autoApply({gateway, token: 't', project: p, desired: await buildDesiredState(p, {OPENAI_API_KEY: 'sk-x'}), log: () => {}, client})
    expect(client.requests[0]!.body.prune).toBe(false)
  })

  it('says when lobu.toml is already applied', async () => {
    const client = fake([{kind: 'agent', id: 'support', action: 'noop', fields: []}])
    const lines: string[] = []
    const p = await project(true)
    await autoApply({gateway, token: 't', project: p, desired: await buildDesiredState(p, {OPENAI_API_KEY: 'sk-x'}), log: (l) => lines.push(l), client})
    expect(client.requests.map((r) => r.path)).toEqual([PLAN_PATH])
    expect(lines).toEqual(['lobu.toml already applied: support unchanged'])
  })
})

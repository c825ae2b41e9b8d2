import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {applyProject} from '../../../src/lib/apply/index.js'
import {APPLY_PATH, PLAN_PATH} from '../../../src/lib/apply/run.js'
import type {Plan, PlanChange} from '../../../src/lib/contract/apply.js'
import {loadProject} from '../../../src/lib/config/index.js'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, {recursive: true, force: true})
})

async function project(withId: boolean) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lobu-apply-project-'))
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

describe('applyProject (lobu run auto-apply)', () => {
  const changes: PlanChange[] = [
    {kind: 'agent', id: 'support', action: 'update', fields: [{path: 'providers[0].model', before: 'gpt-4o', after: 'gpt-4o-mini'}]},
    {kind: 'agent', id: 'old', action: 'delete', fields: []},
    {kind: 'secret', id: 'OPENAI_API_KEY', action: 'noop', fields: []},
  ]

  it('applies without asking, prunes with a project id and logs one line per agent', async () => {
    const client = fake(changes)
    const lines: string[] = []
    const result = await applyProject({client, project: await project(true), env: {OPENAI_API_KEY: 'sk-x'}, prune: true, log: (l) => lines.push(l)})
    expect(client.requests.map((r) => r.path)).toEqual([PLAN_PATH, APPLY_PATH])
    expect(client.requests[0]!.body).toMatchObject({project: 'desk-3f9a2c', prune: true, secrets: {OPENAI_API_KEY: 'sk-x'}})
    expect(lines).toEqual(['agent support: updated (providers[0].model)', 'agent old: deleted'])
    expect(result.applied?.applied).toBe(true)
  })

  it('never prunes a project without an id', async () => {
    const client = fake(changes)
    await applyProject({client, project: await project(false), env: {OPENAI_API_KEY: 'sk-x'}, prune: true})
    expect(client.requests[0]!.body.prune).toBe(false)
  })

  it('throws exit 2 for a missing $NAME before any request', async () => {
    const client = fake(changes)
    await expect(applyProject({client, project: await project(true), env: {}})).rejects.toMatchObject({kind: 'usage'})
    expect(client.requests).toEqual([])
  })
})

import {describe, expect, it} from 'vitest'

import {OperationError} from '../../../src/lib/core/errors.js'
import {APPLY_PATH, PLAN_PATH, runApply} from '../../../src/lib/apply/run.js'
import type {ApplyResult, DesiredState, Plan, PlanChange} from '../../../src/lib/contract/apply.js'

const desired: DesiredState = {project: 'desk-3f9a2c', agents: [], secrets: {OPENAI_API_KEY: 'sk-secret'}}

function plan(id: string, changes: PlanChange[]): Plan {
  const summary = {create: 0, update: 0, delete: 0, noop: 0}
  for (const c of changes) summary[c.action]++
  return {planId: id, fingerprint: id.padEnd(64, '0'), project: desired.project, prune: false, changes, summary, orphans: [], warnings: []}
}
const create: PlanChange = {kind: 'agent', id: 'support', action: 'create', fields: [{path: 'name', after: 'Support'}]}
const noop: PlanChange = {kind: 'agent', id: 'support', action: 'noop', fields: []}

function stale(code = 'PLAN_STALE') {
  return Object.assign(new OperationError('stale', {code}), {status: code === 'PLAN_STALE' ? 409 : 404})
}

/** A fake gateway: answers plan/apply from queues and records every request. */
function fakeClient(plans: Plan[], applies: (ApplyResult | Error)[]) {
  const requests: {path: string; body: any}[] = []
  return {
    requests,
    async post<T>(path: string, body?: unknown): Promise<T> {
      requests.push({path, body})
      const next = path === PLAN_PATH ? plans.shift() : applies.shift()
      if (next === undefined) throw new Error(`unexpected request ${path}`)
      if (next instanceof Error) throw next
      return next as T
    },
  }
}

function io() {
  const out: string[] = []
  const err: string[] = []
  return {out, err, io: {out: (l: string) => out.push(l), err: (l: string) => err.push(l)}}
}

const applied = (p: Plan): ApplyResult => ({applied: true, project: p.project, changes: p.changes, summary: p.summary, fingerprint: 'f'.repeat(64)})

describe('runApply', () => {
  it('dry run: plans, renders, sends no apply', async () => {
    const client = fakeClient([plan('p1', [create])], [])
    const o = io()
    const r = await runApply({client, desired, dryRun: true, io: o.io})
    expect(client.requests.map((q) => q.path)).toEqual([PLAN_PATH])
    expect(client.requests[0]!.body).toEqual({...desired, prune: false})
    expect(o.out).toEqual(['+ create agent support', '    name: "Support"', '', 'Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.'])
    expect(r).toMatchObject({applied: null, changed: true})
  })

  it('refuses without --yes and without a prompt (exit 2), after showing the plan', async () => {
    const client = fakeClient([plan('p1', [create])], [])
    const o = io()
    await expect(runApply({client, desired, io: o.io})).rejects.toMatchObject({
      kind: 'usage',
      message: 'refusing to apply without --yes in non-interactive mode',
    })
    expect(client.requests.map((q) => q.path)).toEqual([PLAN_PATH])
    expect(o.out.at(-1)).toMatch(/^Plan: 1 to create/)
  })

  it('without --yes and with no changes: nothing to confirm, no error, no apply request', async () => {
    const client = fakeClient([plan('p1', [noop])], [])
    const o = io()
    const r = await runApply({client, desired, io: o.io})
    expect(r).toMatchObject({applied: null, changed: false})
    expect(client.requests.map((q) => q.path)).toEqual([PLAN_PATH])
    expect(o.err).toContain('No changes: the gateway already matches lobu.toml.')
  })

  it('applies the plan by id with --yes', async () => {
    const p = plan('p1', [create])
    const client = fakeClient([p], [applied(p)])
    const o = io()
    const r = await runApply({client, desired, yes: true, io: o.io})
    expect(client.requests[1]).toEqual({path: APPLY_PATH, body: {planId: 'p1', fingerprint: p.fingerprint}})
    expect(o.out.at(-1)).toBe('Applied: 1 created, 0 updated, 0 deleted, 0 unchanged.')
    expect(r.applied?.applied).toBe(true)
  })

  it('sends nothing to apply when the plan has no changes', async () => {
    const client = fakeClient([plan('p1', [noop])], [])
    const r = await runApply({client, desired, yes: true})
    expect(client.requests).toHaveLength(1)
    expect(r).toMatchObject({applied: null, changed: false})
  })

  it('asks, and applies nothing when declined', async () => {
    const client = fakeClient([plan('p1', [create])], [])
    const asked: string[] = []
    const r = await runApply({client, desired, confirm: async (m) => (asked.push(m), false)})
    expect(asked).toEqual(['Apply these changes?'])
    expect(client.requests).toHaveLength(1)
    expect(r.declined).toBe(true)
  })

  it('re-plans once on 409 PLAN_STALE and shows the new plan', async () => {
    const p2 = plan('p2', [create])
    const client = fakeClient([plan('p1', [create]), p2], [stale(), applied(p2)])
    const o = io()
    const r = await runApply({client, desired, yes: true, io: o.io})
    expect(client.requests.map((q) => q.body.planId ?? 'plan')).toEqual(['plan', 'p1', 'plan', 'p2'])
    expect(o.err.join('\n')).toMatch(/changed since the plan was made.*Planning again/)
    expect(o.out.filter((l) => l.startsWith('Plan:'))).toHaveLength(2)
    expect(r.plan.planId).toBe('p2')
  })

  it('gives up after a second 409 (exit 1)', async () => {
    const client = fakeClient([plan('p1', [create]), plan('p2', [create])], [stale(), stale()])
    await expect(runApply({client, desired, yes: true})).rejects.toMatchObject({kind: 'failed', code: 'PLAN_STALE'})
    expect(client.requests).toHaveLength(4)
  })

  it('falls back to sending the desired state when the gateway lost the plan', async () => {
    const p = plan('p1', [create])
    const client = fakeClient([p], [stale('PLAN_NOT_FOUND'), applied(p)])
    await runApply({client, desired, yes: true, prune: true})
    expect(client.requests[2]).toEqual({path: APPLY_PATH, body: {desired, fingerprint: p.fingerprint, prune: true}})
  })
})

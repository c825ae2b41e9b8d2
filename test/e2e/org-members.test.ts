/**
 * `lobu org members add|list|set-role|remove` end to end: the built CLI against a team gateway,
 * as an owner of the org, as a member (refused, exit 3) and as the admin (`--org`).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {mintToken} from '../../src/lib/gateway/auth/token-service.js'
import {startTestGateway, type TestGateway, type TestOrg} from '../support/gateway.js'
import {type Sandbox, createSandbox, runLobu} from './helpers.js'

describe('lobu org members (e2e)', () => {
  let gw: TestGateway
  let org: TestOrg
  let sandbox: Sandbox
  const as = (token: string) => ({sandbox, env: {LOBU_TOKEN: token}})

  beforeAll(async () => {
    gw = await startTestGateway({team: true})
    org = await gw.createOrg('acme')
    sandbox = await createSandbox()
    const added = await runLobu(['context', 'add', 'team', '--url', gw.url], {sandbox})
    expect(added.exitCode, added.stderr).toBe(0)
  })
  afterAll(async () => {
    await gw?.close()
    await sandbox?.cleanup()
  })

  it('an owner adds, lists, promotes and removes a member', async () => {
    const add = await runLobu(['org', 'members', 'add', 'grace@acme.test', '-c', 'team', '--json'], as(org.token))
    expect(add.exitCode, add.stderr).toBe(0)
    expect(JSON.parse(add.stdout)).toMatchObject({org: {slug: 'acme'}, role: 'member', user: {email: 'grace@acme.test'}})

    const list = await runLobu(['org', 'members', 'list', '-c', 'team', '--json'], as(org.token))
    expect(list.exitCode, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout).members.map((m: {email: string; role: string}) => `${m.email}:${m.role}`).sort()).toEqual(['grace@acme.test:member', `${org.email}:owner`])
    const table = await runLobu(['org', 'members', 'list', '-c', 'team'], as(org.token))
    expect(table.stdout).toMatch(/EMAIL\s+NAME\s+ROLE/)

    const promote = await runLobu(['org', 'members', 'set-role', 'grace@acme.test', 'owner', '-c', 'team', '--json'], as(org.token))
    expect(promote.exitCode, promote.stderr).toBe(0)
    expect(JSON.parse(promote.stdout)).toMatchObject({email: 'grace@acme.test', role: 'owner'})

    const noYes = await runLobu(['org', 'members', 'remove', 'grace@acme.test', '-c', 'team'], as(org.token))
    expect(noYes.exitCode).toBe(2)
    expect(noYes.stderr).toContain('--yes')
    const removed = await runLobu(['org', 'members', 'remove', 'grace@acme.test', '-c', 'team', '--yes', '--json'], as(org.token))
    expect(removed.exitCode, removed.stderr).toBe(0)
    expect(JSON.parse(removed.stdout)).toMatchObject({removed: true})
  })

  it('refuses a bad role before sending anything, and keeps the last owner', async () => {
    const bad = await runLobu(['org', 'members', 'set-role', 'grace@acme.test', 'boss', '-c', 'team'], as(org.token))
    expect(bad.exitCode).toBe(2)
    const last = await runLobu(['org', 'members', 'set-role', org.email, 'member', '-c', 'team'], as(org.token))
    expect(last.exitCode).toBe(1)
    expect(last.stderr).toContain('at least one owner')
  })

  it('a member is refused with exit 3 naming the owner role; the admin manages any org with --org', async () => {
    const res = await gw.api('/api/v1/admin/orgs/acme/members', {method: 'POST', body: {email: 'mel@acme.test', name: 'Mel', role: 'member'}})
    expect(res.status).toBe(201)
    const {token} = await mintToken(gw.store, {orgId: org.orgId, userId: res.body.user.id, name: 'mel', scopes: ['agents:read', 'agents:write', 'chat', 'tokens:write'], expiresAt: null})
    const refused = await runLobu(['org', 'members', 'list', '-c', 'team'], as(token))
    expect(refused.exitCode).toBe(3)
    expect(refused.stderr).toContain('owner role')

    const admin = await runLobu(['org', 'members', 'list', '--org', 'acme', '-c', 'team', '--json'], as(gw.adminToken))
    expect(admin.exitCode, admin.stderr).toBe(0)
    expect(JSON.parse(admin.stdout).members.map((m: {email: string}) => m.email)).toContain('mel@acme.test')
  })
})

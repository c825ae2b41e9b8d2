/**
 * Helpers of the OAuth gateway tests: a test gateway with the OAuth routes and a movable clock,
 * orgs whose users have passwords, form posts and token minting.
 */
import {expect} from 'vitest'

import type {DeviceService} from '../../../../src/lib/gateway/oauth/device.js'
import type {GrantService} from '../../../../src/lib/gateway/oauth/grants.js'
import type {ServiceOptions} from '../../../../src/lib/gateway/services.js'
import {rawRequest, startTestGateway, type ApiResponse, type TestGateway} from '../../../support/gateway.js'

export const PASSWORD = 'correct horse battery staple'

export interface OAuthTestGateway extends TestGateway {
  /** Move the OAuth routes' clock (device codes, states, refresh) forward. */
  advance(ms: number): void
  device: DeviceService
  grants: GrantService
  /** POST a form (application/x-www-form-urlencoded) without a token. */
  form(path: string, fields: Record<string, string>, headers?: Record<string, string>): Promise<ApiResponse>
  /** A token of `base` (default: the admin) with these scopes. */
  mint(scopes: string[], base?: string): Promise<{id: string; token: string}>
  /** An org whose owner has a password; returns the owner's email and all-but-admin token. */
  passwordOrg(slug: string): Promise<{slug: string; orgId: string; email: string; userId: string; token: string}>
  /** Add a member with a password to an org (admin API). */
  member(slug: string, email: string, role?: 'owner' | 'member'): Promise<{userId: string}>
}

export async function startOAuthGateway(driver: string, options: ServiceOptions['oauth'] = {}, env: NodeJS.ProcessEnv = {}): Promise<OAuthTestGateway> {
  let offset = 0
  const oauth = {refreshIntervalMs: 0, ...options, now: () => new Date(Date.now() + offset)}
  const gw = await startTestGateway({driver, services: {oauth}, env})
  const {device, grants} = gw.gateway.services

  const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) => {
    const body = new URLSearchParams(fields).toString()
    return rawRequest(gw.url + path, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), ...headers},
      body,
    })
  }

  const mint = async (scopes: string[], base?: string) => {
    const res = await gw.api('/api/v1/tokens', {method: 'POST', body: {name: `t-${scopes.join('-')}`, scopes}, token: base})
    expect(res.status, res.text).toBe(201)
    return {id: res.body.id as string, token: res.body.token as string}
  }

  const passwordOrg = async (slug: string) => {
    const email = `owner@${slug}.example`
    const res = await gw.api('/api/v1/admin/orgs', {method: 'POST', body: {slug, name: `Org ${slug}`, owner: {email, name: `Owner ${slug}`, password: PASSWORD}}})
    expect(res.status, res.text).toBe(201)
    return {slug, orgId: res.body.org.id, email, userId: res.body.user.id, token: res.body.token.token}
  }

  const member = async (slug: string, email: string, role: 'owner' | 'member' = 'member') => {
    const res = await gw.api(`/api/v1/admin/orgs/${slug}/members`, {method: 'POST', body: {email, name: email.split('@')[0], password: PASSWORD, role}})
    expect(res.status, res.text).toBe(201)
    return {userId: res.body.user.id as string}
  }

  return Object.assign(gw, {
    advance: (ms: number) => void (offset += ms),
    device,
    grants,
    form,
    mint,
    passwordOrg,
    member,
  })
}

/** A token obtained through the device flow, approved with another token of the same user and org. */
export async function deviceToken(gw: OAuthTestGateway, approver: string, scope: string): Promise<string> {
  const code = await gw.api('/oauth/device/code', {token: null, body: {client_id: 'test', scope}})
  expect(code.status, code.text).toBe(200)
  const ok = await gw.api('/oauth/device/approve', {token: approver, body: {user_code: code.body.user_code}})
  expect(ok.status, ok.text).toBe(200)
  const tok = await gw.form('/oauth/token', {grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: code.body.device_code})
  expect(tok.status, tok.text).toBe(200)
  return tok.body.access_token
}

/** A token obtained through the device flow, approved on the /device page with email and password. */
export async function pageToken(gw: OAuthTestGateway, email: string, scope: string, org?: string): Promise<string> {
  const code = await gw.api('/oauth/device/code', {token: null, body: {client_id: 'test', scope}})
  expect(code.status, code.text).toBe(200)
  const page = await gw.form('/device', {user_code: code.body.user_code, email, password: PASSWORD, action: 'approve', ...(org ? {org} : {})})
  expect(page.status, page.text).toBe(200)
  const tok = await gw.form('/oauth/token', {grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: code.body.device_code})
  expect(tok.status, tok.text).toBe(200)
  return tok.body.access_token
}

/**
 * Bootstrap of an install, convergent on every boot: the local admin user, org `local`, its
 * owner membership, every org's `default` agent with the current system providers. Each step
 * only creates what is missing, so a partly created state is completed, never duplicated; the
 * whole of it runs in one transaction.
 */
import {userInfo} from 'node:os'

import {DEFAULT_AGENT_ID} from '../../contract/ids.js'
import {SCOPES, isScope, normalizeScopes, type Scope} from '../../contract/scopes.js'
import {applySystemProviders} from '../agents/system-providers.js'
import {mintToken} from '../auth/token-service.js'
import {hashToken, isTokenFormat, sameHash} from '../auth/tokens.js'
import type {OrgRow, ProviderSpec, Store, StoreTx, UserRow} from '../store/types.js'

export const LOCAL_ORG_SLUG = 'local'
export const LOCAL_CLI_TOKEN_NAME = 'lobu run (local)'
/** Meta key recording the bootstrap schema this install reached. */
export const BOOTSTRAP_META_KEY = 'bootstrap.version'
const BOOTSTRAP_VERSION = '1'

export interface BootstrapResult {
  admin: UserRow
  org: OrgRow
}

function localUserName(): string {
  try {
    return userInfo().username || 'local'
  } catch {
    return 'local'
  }
}

/**
 * One read tells whether this boot has anything to write (store/repos/bootstrap.ts): the usual
 * boot of an existing install then costs one query instead of a locked transaction.
 */
async function alreadyBootstrapped(store: Store, systemProviders: ProviderSpec[]): Promise<BootstrapResult | undefined> {
  const found = await store.bootstrap.check({localOrgSlug: LOCAL_ORG_SLUG, versionKey: BOOTSTRAP_META_KEY, defaultAgentId: DEFAULT_AGENT_ID, systemProviders})
  if (found.version !== BOOTSTRAP_VERSION || found.role !== 'owner' || found.staleOrgs !== 0 || !found.admin || !found.org) return undefined
  return {admin: found.admin, org: found.org}
}

export async function bootstrap(store: Store, opts: {systemProviders: ProviderSpec[]}): Promise<BootstrapResult> {
  const done = await alreadyBootstrapped(store, opts.systemProviders)
  if (done) return done
  return store.transaction(async (tx) => {
    // Serialises concurrent bootstraps of gateways sharing one PostgreSQL database.
    await tx.locks.bootstrap()
    const admin = (await tx.users.getFirstAdmin()) ?? (await tx.users.create({email: null, name: localUserName(), isAdmin: true}))
    const org = (await tx.orgs.getBySlug(LOCAL_ORG_SLUG)) ?? (await tx.orgs.create({slug: LOCAL_ORG_SLUG, name: 'Local'}))
    const membership = await tx.memberships.get(org.id, admin.id)
    if (membership?.role !== 'owner') await tx.memberships.upsert({orgId: org.id, userId: admin.id, role: 'owner'})
    await applySystemProviders(tx, opts.systemProviders)
    if ((await tx.meta.get(BOOTSTRAP_META_KEY)) !== BOOTSTRAP_VERSION) await tx.meta.set(BOOTSTRAP_META_KEY, BOOTSTRAP_VERSION)
    return {admin, org}
  })
}

/** What `lobu run` stores in credentials.json for the origin it serves. */
export interface LocalCliToken {
  token: string
  tokenId: string
  org: string
  /** The local user's display name. */
  user: string
  userId: string
  scopes: Scope[]
  expiresAt: string | null
  /** True when a new token was minted (the candidate was missing or not valid). */
  created: boolean
}

/**
 * Keep `candidate` when it is a known, unrevoked, unexpired token of the local admin in org
 * `local`; otherwise mint a new one with ALL scopes. Call after bootstrap().
 */
export async function ensureLocalCliToken(store: Store, candidate?: string, now: Date = new Date()): Promise<LocalCliToken> {
  // The usual boot keeps its stored token: plain reads, no transaction.
  const kept = await keepCandidate(store, candidate, now)
  if (kept) return kept
  return store.transaction(async (tx) => {
    const again = await keepCandidate(tx, candidate, now)
    if (again) return again
    const {admin, org} = await localAdminAndOrg(tx)
    const {row, token} = await mintToken(tx, {orgId: org.id, userId: admin.id, name: LOCAL_CLI_TOKEN_NAME, scopes: [...SCOPES], expiresAt: null})
    return {org: LOCAL_ORG_SLUG, user: admin.name, userId: admin.id, token, tokenId: row.id, scopes: [...SCOPES], expiresAt: null, created: true}
  })
}

async function localAdminAndOrg(repos: StoreTx): Promise<{admin: UserRow; org: OrgRow}> {
  const admin = await repos.users.getFirstAdmin()
  const org = await repos.orgs.getBySlug(LOCAL_ORG_SLUG)
  if (!admin || !org) throw new Error('the gateway is not bootstrapped: no local admin or org "local"')
  return {admin, org}
}

/** The candidate as a LocalCliToken when it is a live token of the local admin in org `local`. */
async function keepCandidate(repos: StoreTx, candidate: string | undefined, now: Date): Promise<LocalCliToken | undefined> {
  if (!candidate || !isTokenFormat(candidate)) {
    await localAdminAndOrg(repos) // still fail loudly on a store that was never bootstrapped
    return undefined
  }
  const {admin, org} = await localAdminAndOrg(repos)
  const hash = hashToken(candidate)
  const row = await repos.tokens.findByHash(hash)
  const valid =
    row &&
    sameHash(row.tokenHash, hash) &&
    row.userId === admin.id &&
    row.orgId === org.id &&
    !row.revokedAt &&
    (!row.expiresAt || row.expiresAt.getTime() > now.getTime())
  if (!valid) return undefined
  return {
    org: LOCAL_ORG_SLUG,
    user: admin.name,
    userId: admin.id,
    token: candidate,
    tokenId: row.id,
    scopes: normalizeScopes(row.scopes.filter(isScope)),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    created: false,
  }
}

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
import {toOrg} from '../store/repos/orgs.js'
import {toJson} from '../store/repos/rows.js'
import {toUser} from '../store/repos/users.js'
import type {OrgRow, ProviderSpec, Store, StoreTx, UserRow} from '../store/types.js'

export const LOCAL_ORG_SLUG = 'local'
export const LOCAL_CLI_TOKEN_NAME = 'lobu run (local)'
/** Meta key recording the bootstrap schema this install reached. */
export const BOOTSTRAP_META_KEY = 'bootstrap.version'
const BOOTSTRAP_VERSION = '1'
/** Serializes concurrent bootstraps of gateways sharing one PostgreSQL database. */
const BOOTSTRAP_LOCK_KEY = 7_343_171

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

async function serialize(tx: StoreTx): Promise<void> {
  await tx.sql.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK_KEY])
}

/**
 * One read that tells whether this boot has anything to write: the local admin, org `local`
 * and its owner membership exist, the bootstrap version is current, and every org's `default`
 * agent has exactly these system providers (jsonb equality ignores key order). The usual boot
 * of an existing install then costs one query instead of a locked transaction.
 */
const CHECK_SQL = `
WITH admin AS (
  SELECT id, email, name, is_admin, password_hash, created_at FROM users WHERE is_admin ORDER BY created_at, id LIMIT 1
), local_org AS (
  SELECT id, slug, name, created_at FROM orgs WHERE slug = $1
)
SELECT
  (SELECT value FROM meta WHERE key = $2) AS version,
  (SELECT row_to_json(admin) FROM admin) AS admin,
  (SELECT row_to_json(local_org) FROM local_org) AS org,
  (SELECT m.role FROM memberships m JOIN admin a ON m.user_id = a.id JOIN local_org o ON m.org_id = o.id) AS role,
  (SELECT count(*) FROM orgs o WHERE NOT EXISTS (
     SELECT 1 FROM agents g WHERE g.org_id = o.id AND g.agent_id = $3 AND g.spec -> 'providers' = $4::jsonb
  )) AS stale_orgs`

interface CheckRow {
  version: string | null
  admin: Record<string, unknown> | string | null
  org: Record<string, unknown> | string | null
  role: string | null
  stale_orgs: number | string
}

async function alreadyBootstrapped(store: Store, systemProviders: ProviderSpec[]): Promise<BootstrapResult | undefined> {
  const [row] = await store.sql.query<CheckRow>(CHECK_SQL, [LOCAL_ORG_SLUG, BOOTSTRAP_META_KEY, DEFAULT_AGENT_ID, JSON.stringify(systemProviders)])
  if (!row || row.version !== BOOTSTRAP_VERSION || row.role !== 'owner' || Number(row.stale_orgs) !== 0 || !row.admin || !row.org) return undefined
  // row_to_json keeps the column names, so the repos' own row mappers apply.
  return {admin: toUser(toJson(row.admin)), org: toOrg(toJson(row.org))}
}

export async function bootstrap(store: Store, opts: {systemProviders: ProviderSpec[]}): Promise<BootstrapResult> {
  const done = await alreadyBootstrapped(store, opts.systemProviders)
  if (done) return done
  return store.transaction(async (tx) => {
    await serialize(tx)
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

/**
 * Organizations (team deployments, `admin` scope): create an org with its owner, its default
 * agent and the owner's first token in ONE transaction; list orgs; add members.
 */
import type {CreatedOrg, OrgView, UserView} from '../../contract/api.js'
import {OWNER_SCOPES} from '../../contract/scopes.js'
import {ensureDefaultAgent} from '../agents/system-providers.js'
import {hashPassword} from '../auth/password.js'
import {mintToken, toCreatedToken, type CreatedToken} from '../auth/token-service.js'
import {authCacheOf} from '../auth/authenticate.js'
import {conflict, notFound} from '../http/errors.js'
import {isUniqueViolation} from '../store/driver.js'
import type {MemberRole, MemberWithUser, OrgRow, ProviderSpec, Store, StoreTx, UserRow} from '../store/types.js'

export type {OrgView, UserView}

export interface PersonInput {
  email: string
  name: string
  password?: string
}

export interface MemberView {
  userId: string
  email: string | null
  name: string
  role: MemberRole
  since: string
}

const toMemberView = (m: MemberWithUser): MemberView => ({userId: m.userId, email: m.email, name: m.name, role: m.role, since: m.createdAt.toISOString()})

function noSuchMember(ref: string) {
  return notFound(`no member "${ref}" in this organization`, 'list the members with `lobu org members list`')
}

function lastOwner() {
  return conflict('LAST_OWNER', 'an organization keeps at least one owner', 'make another member an owner first (lobu org members set-role EMAIL owner)')
}

export const toOrgView = (org: OrgRow): OrgView => ({id: org.id, slug: org.slug, name: org.name, createdAt: org.createdAt.toISOString()})
export const toUserView = (user: UserRow): UserView => ({id: user.id, name: user.name, email: user.email})

function orgExists(slug: string) {
  return conflict('ORG_EXISTS', `an organization with slug "${slug}" already exists`, 'pick another slug')
}

/**
 * The user with this email, created when missing. An existing user keeps their name; a
 * password is only set when they have none yet (an admin never silently replaces one).
 */
async function findOrCreateUser(tx: StoreTx, person: PersonInput): Promise<{user: UserRow; created: boolean}> {
  const email = person.email.trim().toLowerCase()
  const existing = await tx.users.getByEmail(email)
  if (existing) {
    if (person.password && !existing.passwordHash) {
      const passwordHash = await hashPassword(person.password)
      await tx.users.setPasswordHash(existing.id, passwordHash)
      return {user: {...existing, passwordHash}, created: false}
    }
    return {user: existing, created: false}
  }
  const passwordHash = person.password ? await hashPassword(person.password) : null
  return {user: await tx.users.create({email, name: person.name, passwordHash}), created: true}
}

export class OrgService {
  constructor(
    private readonly store: Store,
    private readonly systemProviders: () => ProviderSpec[],
  ) {}

  async create(input: {slug: string; name: string; owner: PersonInput}): Promise<CreatedOrg> {
    try {
      return await this.store.transaction(async (tx) => {
        if (await tx.orgs.getBySlug(input.slug)) throw orgExists(input.slug)
        const org = await tx.orgs.create({slug: input.slug, name: input.name})
        const {user} = await findOrCreateUser(tx, input.owner)
        await tx.memberships.upsert({orgId: org.id, userId: user.id, role: 'owner'})
        await ensureDefaultAgent(tx, org.id, this.systemProviders())
        const {row, token} = await mintToken(tx, {orgId: org.id, userId: user.id, name: `owner of ${org.slug}`, scopes: [...OWNER_SCOPES], expiresAt: null})
        return {org: toOrgView(org), user: toUserView(user), token: toCreatedToken(row, token)}
      })
    } catch (err) {
      // A concurrent create of the same slug loses on the unique index: still a 409.
      if (isUniqueViolation(err) && (await this.store.orgs.getBySlug(input.slug))) throw orgExists(input.slug)
      throw err
    }
  }

  async list(): Promise<OrgView[]> {
    return (await this.store.orgs.list()).map(toOrgView).sort((a, b) => a.slug.localeCompare(b.slug))
  }

  /** The org with this slug, or 404. */
  async bySlug(slug: string): Promise<OrgRow> {
    const org = await this.store.orgs.getBySlug(slug)
    if (!org) throw notFound(`organization "${slug}" not found`, 'list organizations with GET /api/v1/admin/orgs')
    return org
  }

  /**
   * Add a member (or change the role of an existing one). A demotion of the last owner is a 409.
   * Cached authentications are dropped at once: the new role applies to the next request.
   */
  async addMember(orgRef: {slug: string} | {id: string}, input: PersonInput & {role: MemberRole}): Promise<{created: boolean; org: OrgView; user: UserView; role: MemberRole}> {
    const result = await this.store.transaction(async (tx) => {
      const org = 'slug' in orgRef ? await tx.orgs.getBySlug(orgRef.slug) : await tx.orgs.getById(orgRef.id)
      if (!org) throw notFound(`organization "${'slug' in orgRef ? orgRef.slug : orgRef.id}" not found`, 'list organizations with GET /api/v1/admin/orgs')
      const {user} = await findOrCreateUser(tx, input)
      const owners = await tx.memberships.lockOwners(org.id)
      const before = await tx.memberships.get(org.id, user.id)
      if (before?.role === 'owner' && input.role !== 'owner' && owners <= 1) throw lastOwner()
      const membership = await tx.memberships.upsert({orgId: org.id, userId: user.id, role: input.role})
      return {created: !before, org: toOrgView(org), user: toUserView(user), role: membership.role}
    })
    authCacheOf(this.store).forgetAll()
    return result
  }

  async listMembers(orgId: string): Promise<MemberView[]> {
    return (await this.store.memberships.listMembers(orgId)).map(toMemberView)
  }

  /** Change a member's role (`ref`: user id or email). The last owner cannot be demoted (409). */
  async setRole(orgId: string, ref: string, role: MemberRole): Promise<MemberView> {
    const view = await this.store.transaction(async (tx) => {
      const owners = await tx.memberships.lockOwners(orgId)
      const member = await this.#member(tx, orgId, ref)
      if (member.role === 'owner' && role !== 'owner' && owners <= 1) throw lastOwner()
      const row = await tx.memberships.upsert({orgId, userId: member.userId, role})
      return toMemberView({...member, role: row.role})
    })
    authCacheOf(this.store).forgetAll()
    return view
  }

  /** Remove a member: its tokens in this org stop working at once. The last owner stays (409). */
  async removeMember(orgId: string, ref: string): Promise<{userId: string; removed: true}> {
    const userId = await this.store.transaction(async (tx) => {
      const owners = await tx.memberships.lockOwners(orgId)
      const member = await this.#member(tx, orgId, ref)
      if (member.role === 'owner' && owners <= 1) throw lastOwner()
      await tx.memberships.remove(orgId, member.userId)
      return member.userId
    })
    authCacheOf(this.store).forgetAll()
    return {userId, removed: true}
  }

  async #member(tx: StoreTx, orgId: string, ref: string): Promise<MemberWithUser> {
    const wanted = ref.trim().toLowerCase()
    const found = (await tx.memberships.listMembers(orgId)).find((m) => m.userId === ref || (m.email !== null && m.email.toLowerCase() === wanted))
    if (!found) throw noSuchMember(ref)
    return found
  }
}

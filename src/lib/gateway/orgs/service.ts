/**
 * Organizations (team deployments, `admin` scope): create an org with its owner, its default
 * agent and the owner's first token in ONE transaction; list orgs; add members.
 */
import type {CreatedOrg, OrgView, UserView} from '../../contract/api.js'
import {OWNER_SCOPES} from '../../contract/scopes.js'
import {ensureDefaultAgent} from '../agents/system-providers.js'
import {hashPassword} from '../auth/password.js'
import {mintToken, toCreatedToken, type CreatedToken} from '../auth/token-service.js'
import {conflict, notFound} from '../http/errors.js'
import {isUniqueViolation} from '../store/driver.js'
import type {MemberRole, OrgRow, ProviderSpec, Store, StoreTx, UserRow} from '../store/types.js'

export type {OrgView, UserView}

export interface PersonInput {
  email: string
  name: string
  password?: string
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

  async addMember(slug: string, input: PersonInput & {role: MemberRole}): Promise<{created: boolean; org: OrgView; user: UserView; role: MemberRole}> {
    return this.store.transaction(async (tx) => {
      const org = await tx.orgs.getBySlug(slug)
      if (!org) throw notFound(`organization "${slug}" not found`, 'list organizations with GET /api/v1/admin/orgs')
      const {user} = await findOrCreateUser(tx, input)
      const before = await tx.memberships.get(org.id, user.id)
      const membership = await tx.memberships.upsert({orgId: org.id, userId: user.id, role: input.role})
      return {created: !before, org: toOrgView(org), user: toUserView(user), role: membership.role}
    })
  }
}

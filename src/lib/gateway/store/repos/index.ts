import type {StoreTx, Sql} from '../types.js'
import {agentRepo} from './agents.js'
import {bootstrapRepo} from './bootstrap.js'
import {lockRepo} from './locks.js'
import {membershipRepo} from './memberships.js'
import {metaRepo} from './meta.js'
import {orgRepo} from './orgs.js'
import {secretRepo} from './secrets.js'
import {tokenRepo} from './tokens.js'
import {userRepo} from './users.js'

/** Every repository over one Sql: the same code runs inside and outside a transaction. */
export function createRepos(sql: Sql): StoreTx {
  return {
    sql,
    orgs: orgRepo(sql),
    users: userRepo(sql),
    memberships: membershipRepo(sql),
    tokens: tokenRepo(sql),
    agents: agentRepo(sql),
    secrets: secretRepo(sql),
    meta: metaRepo(sql),
    locks: lockRepo(sql),
    bootstrap: bootstrapRepo(sql),
  }
}

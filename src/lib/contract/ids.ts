/**
 * The ids lobu.toml, the CLI and the gateway agree on, and their patterns: one definition each.
 * Dependency-free (no zod): `lobu init`, `lobu validate` and the gateway's schemas all test
 * against these.
 */

/** An agent id, the table key of `[agents.<id>]`; also an organization's slug. */
export const AGENT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/

/** `[project] id` as lobu.toml declares it (`lobu init` writes `<name>-<6 hex>`). */
export const PROJECT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{2,62}$/

/**
 * A project id on the wire (`managedBy` of applied agents, /health): a declared id, or the
 * fallback of projectIdOf, which may also hold "." and "_" and is up to 128 characters.
 */
export const WIRE_PROJECT_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/

/** A secret's name (`AGENT_SUPPORT_OPENAI_KEY`), environment-variable style. */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
/** A provider id of an agent (`openai`, `my.gateway`). */
export const PROVIDER_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/
/** An MCP server id of an agent (`github`). */
export const MCP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

/** The agent every org has, answering when a chat names none. lobu apply never deletes it. */
export const DEFAULT_AGENT_ID = 'default'

/** The id of a project that declares none and whose folder name has no letter or digit. */
const FALLBACK_PROJECT_ID = 'project'

/**
 * The fallback project id: the folder's name lower-cased, every run of characters other than
 * letters, digits, ".", "_" and "-" turned into one "-", leading non-alphanumerics dropped, cut to
 * 128 characters (a folder `My Agent` → `my-agent`). Matches WIRE_PROJECT_ID_PATTERN.
 */
export function fallbackProjectId(folderName: string): string {
  const slug = folderName
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 128)
  return slug || FALLBACK_PROJECT_ID
}

/**
 * The id of a project: `[project] id` of its lobu.toml, else fallbackProjectId of its folder.
 * One rule for every place that names a project: the `managedBy` of the agents `lobu apply`
 * creates, the project a local gateway reports in /health, and the CLI's check of that answer.
 */
export function projectIdOf(declared: string | undefined, folderName: string): {id: string; declared: boolean} {
  return declared ? {id: declared, declared: true} : {id: fallbackProjectId(folderName), declared: false}
}

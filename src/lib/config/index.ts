/**
 * lobu.toml: finding, parsing, validating (every error with file:line:col), the project's .env
 * and `$NAME` references. Light on purpose (smol-toml, zod, node:*): commands load it at startup.
 */
export {type ConfigIssue, type PathSegment, ConfigError, formatIssue, formatPath, formatWarning, sortIssues} from './issues.js'
export type {
  AgentConfig,
  LobuConfig,
  McpAuthScope,
  McpConfig,
  McpType,
  NetworkConfig,
  OAuthConfig,
  Project,
  ProviderConfig,
  ToolsConfig,
} from './types.js'
export {type ParseResult, parseConfigSource} from './parse.js'
export {CONFIG_FILE_NAME, type FindConfigOptions, findConfigFile} from './find.js'
export {type AgentFiles, type LoadProjectOptions, agentDir, loadProject, loadProjectIfAny, readAgentFiles} from './project.js'
export {projectIdOf} from './project-id.js'
export {loadDotEnv, mergeEnv, parseDotEnv} from './dotenv.js'
export {
  type EnvRef,
  type EnvRefIssue,
  MissingEnvError,
  type ResolvedEnvRefs,
  collectEnvRefs,
  parseEnvRef,
  requireEnvRefs,
  resolveEnvRefs,
} from './env-refs.js'
export {type ValidationReport, validateProject} from './validate.js'
export {SourceLocator} from './locate.js'

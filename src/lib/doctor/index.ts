/**
 * `lobu doctor` as a plain function: every check of this machine, the project, the embedded
 * gateway's resources and each context's gateway, in a fixed order. Read only: it creates no
 * directory, takes no lock and stores no token.
 */
import path from 'node:path'

import {checkGateways} from './gateways.js'
import {checkDataDir, checkEncryptionKey, checkPort} from './local.js'
import {checkAgentProviders, checkConfigFile, checkEnvRefs, checkSystemProviders} from './project.js'
import {checkConfigDir, checkCredentials, checkNode} from './system.js'
import {type Check, DEFAULT_TIMEOUT_MS, type DoctorOptions, type DoctorReport} from './types.js'

export {renderCheck, renderReport, summaryLine} from './render.js'
export {checkGateways} from './gateways.js'
export {checkDataDir, checkEncryptionKey, checkPort, portState} from './local.js'
export {agentsWithoutKey, checkAgentProviders, checkConfigFile, checkEnvRefs, checkSystemProviders, providerKeyState} from './project.js'
export {MIN_NODE, checkConfigDir, checkCredentials, checkNode, versionAtLeast} from './system.js'
export {probeHealth, probeJson} from './http.js'
export type {GatewayHealth, HealthResult, ProbeResult} from './http.js'
export type {Check, CheckStatus, DoctorOptions, DoctorReport} from './types.js'
export {DEFAULT_TIMEOUT_MS} from './types.js'

export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env
  const cwd = path.resolve(options.cwd ?? process.cwd())
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const now = options.now ?? new Date()

  const checks: Check[] = [checkNode(options.nodeVersion), checkConfigDir(env), checkCredentials(env)]

  const {project, check: configCheck} = await checkConfigFile({cwd, env, configPath: options.configPath})
  checks.push(configCheck)
  if (project) checks.push(checkEnvRefs(project, cwd), ...checkAgentProviders(project, cwd))
  // System providers come from the gateway's own environment (not the project's .env).
  checks.push(checkSystemProviders(env, project))

  const [dataDir, port, gateways] = await Promise.all([
    checkDataDir({env, project}),
    checkPort({project, timeoutMs}),
    checkGateways({env, project, context: options.context, timeoutMs, now}),
  ])
  checks.push(dataDir, checkEncryptionKey({env, project}), port, ...gateways)
  return {ok: checks.every((c) => c.status !== 'fail'), checks}
}

/**
 * Shared by the CLI-side unit tests: a fresh LOBU_CONFIG_DIR per test (not created yet, so the
 * first write creates it) and a helper that catches the LobuError a call must throw.
 *
 *   const tmp = useTempConfigDir('lobu-ctx-')   // tmp.root, tmp.env, fresh in each test
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, expect} from 'vitest'

import {LobuError} from '../../src/lib/core/errors.js'

export interface TempConfigDir {
  root: string
  env: Record<string, string | undefined>
}

export function useTempConfigDir(prefix: string): TempConfigDir {
  const state: TempConfigDir = {root: '', env: {}}
  beforeEach(() => {
    state.root = mkdtempSync(join(tmpdir(), prefix))
    state.env = {LOBU_CONFIG_DIR: join(state.root, 'cfg')}
  })
  afterEach(() => {
    rmSync(state.root, {recursive: true, force: true})
  })
  return state
}

export function catchLobuError(fn: () => unknown): LobuError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(LobuError)
    return error as LobuError
  }
  throw new Error('expected an error')
}

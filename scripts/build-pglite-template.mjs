#!/usr/bin/env node
// Build step (after tsc): make the database a fresh data dir starts from, so first boot
// restores a tarball instead of running initdb (~2–5 s and ~800 MB). Writes
// dist/pglite-template.tar.gz: the data directory of a database with every migration applied,
// closed cleanly, trimmed to what PostgreSQL needs (see buildPgliteTemplate in
// src/lib/gateway/store/template.ts). openStore() falls back to initdb when the file is missing.
import {mkdir, rename, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const dist = path.join(root, 'dist')
const out = process.argv[2] ? path.resolve(process.argv[2]) : path.join(dist, 'pglite-template.tar.gz')

const started = performance.now()
const {buildPgliteTemplate} = await import(pathToFileURL(path.join(dist, 'lib/gateway/store/template.js')).href)
const {LATEST_SCHEMA_VERSION} = await import(pathToFileURL(path.join(dist, 'lib/gateway/store/migrations.js')).href)
const archive = await buildPgliteTemplate()
const {readTar} = await import(pathToFileURL(path.join(dist, 'lib/gateway/store/tar.js')).href)
const {gunzipSync} = await import('node:zlib')
const entries = readTar(gunzipSync(archive)).length
await mkdir(path.dirname(out), {recursive: true})
const tmp = `${out}.${process.pid}.tmp`
await writeFile(tmp, archive)
await rename(tmp, out)
const ms = Math.round(performance.now() - started)
process.stderr.write(
  `pglite template: ${path.relative(root, out)} (schema v${LATEST_SCHEMA_VERSION}, ${(archive.length / 1e6).toFixed(1)} MB, ${entries} entries, ${ms} ms)\n`,
)

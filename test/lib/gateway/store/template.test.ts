import {existsSync} from 'node:fs'
import {mkdir, readdir, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {gzipSync} from 'node:zlib'

import {afterAll, describe, expect, it} from 'vitest'

import {openStore} from '../../../../src/lib/gateway/store/index.js'
import {openPgliteDriver, PGDATA_DIR} from '../../../../src/lib/gateway/store/pglite.js'
import {TarFormatError, TarParser, extractTar, packDirectory, readTar, restoreTemplate} from '../../../../src/lib/gateway/store/tar.js'
import {leftOutOfTemplate} from '../../../../src/lib/gateway/store/template.js'
import {freshPgliteDir, pgliteTemplate} from '../../../support/store.js'

const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const fn of cleanups) await fn()
})

async function tempDir(): Promise<string> {
  const {dataDir, remove} = await freshPgliteDir()
  cleanups.push(remove)
  return dataDir
}

/** A ustar header + data, built by hand, for the tar reader's edge cases. */
function tarEntry(name: string, body: string, type = '0'): Buffer {
  const header = Buffer.alloc(512)
  header.write(name, 0, 100, 'utf8')
  header.write('0000644\0', 100)
  header.write('0000000\0', 108)
  header.write('0000000\0', 116)
  const data = Buffer.from(body)
  header.write(data.length.toString(8).padStart(11, '0') + '\0', 124)
  header.write('00000000000\0', 136)
  header.write(type, 156)
  header.write('ustar\0', 257)
  header.write('00', 263)
  header.fill(0x20, 148, 156)
  let sum = 0
  for (const b of header) sum += b
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512)
  data.copy(padded)
  return Buffer.concat([header, padded])
}
const tar = (...entries: Buffer[]) => Buffer.concat([...entries, Buffer.alloc(1024)])

describe('PGlite template (fast first boot)', () => {
  it('restores the template into a fresh data dir, and the data persists across reopen', async () => {
    const templatePath = await pgliteTemplate()
    const dataDir = await tempDir()
    const {driver, origin} = await openPgliteDriver(dataDir, {templatePath})
    expect(origin).toBe('template')
    await driver.close()
    expect(existsSync(path.join(dataDir, PGDATA_DIR, 'PG_VERSION'))).toBe(true)

    const store = await openStore({dataDir, templatePath})
    const org = await store.orgs.create({slug: 'persist', name: 'Persist'})
    await store.close()

    const reopened = await openPgliteDriver(dataDir, {templatePath})
    expect(reopened.origin).toBe('existing')
    await reopened.driver.close()
    const again = await openStore({dataDir, templatePath})
    try {
      expect(await again.orgs.getBySlug('persist')).toEqual(org)
    } finally {
      await again.close()
    }
    // Only the database directory: no temp dirs left behind.
    expect(await readdir(dataDir)).toEqual([PGDATA_DIR])
  })

  it('clears what an interrupted first boot left behind', async () => {
    const templatePath = await pgliteTemplate()
    const dataDir = await tempDir()
    await mkdir(path.join(dataDir, `${PGDATA_DIR}.tmp-crashed`, 'base'), {recursive: true})
    const {driver, origin} = await openPgliteDriver(dataDir, {templatePath})
    await driver.close()
    expect(origin).toBe('template')
    expect(await readdir(dataDir)).toEqual([PGDATA_DIR])
  })

  it('refuses a database directory that holds something else', async () => {
    const dataDir = await tempDir()
    await mkdir(path.join(dataDir, PGDATA_DIR))
    await writeFile(path.join(dataDir, PGDATA_DIR, 'stray.txt'), 'x')
    await expect(openPgliteDriver(dataDir, {templatePath: await pgliteTemplate()})).rejects.toThrow(/holds no database/)
  })
})

describe('tar reader', () => {
  it('reads files and directories with their content', () => {
    const archive = tar(tarEntry('/dir/', '', '5'), tarEntry('/dir/a.txt', 'hello'), tarEntry('b.txt', 'x'.repeat(700)))
    const entries = readTar(archive).map((e) => ({name: e.name, type: e.type, size: e.data.length}))
    expect(entries).toEqual([
      {name: '/dir/', type: 'directory', size: 0},
      {name: '/dir/a.txt', type: 'file', size: 5},
      {name: 'b.txt', type: 'file', size: 700},
    ])
  })

  it('reads an archive pushed in pieces of any size like the whole of it', () => {
    const archive = tar(tarEntry('/dir/', '', '5'), tarEntry('/dir/a.txt', 'hello'), tarEntry('b.txt', 'x'.repeat(1500)), tarEntry('c.txt', ''))
    const whole = readTar(archive).map((e) => ({name: e.name, data: e.data.toString()}))
    for (const size of [1, 7, 511, 512, 513, 2000]) {
      const entries: Array<{name: string; data: string}> = []
      const parser = new TarParser((e) => entries.push({name: e.name, data: e.data.toString()}))
      for (let i = 0; i < archive.length; i += size) parser.push(archive.subarray(i, i + size))
      parser.end()
      expect(entries).toEqual(whole)
    }
  })

  it('detects an archive that stops in the middle of an entry', () => {
    const archive = tarEntry('a.txt', 'x'.repeat(1000))
    expect(() => readTar(archive.subarray(0, 512 + 600))).toThrow(/truncated/)
  })

  it('extracts with private modes', async () => {
    const dir = path.join(await tempDir(), 'out')
    expect(extractTar(tar(tarEntry('/x/y.txt', 'data')), dir)).toBe(1)
    const {readFile, stat} = await import('node:fs/promises')
    expect(await readFile(path.join(dir, 'x/y.txt'), 'utf8')).toBe('data')
    if (process.platform !== 'win32') expect((await stat(path.join(dir, 'x/y.txt'))).mode & 0o777).toBe(0o600)
  })

  it('writes large files with zero pages byte for byte', async () => {
    const dir = path.join(await tempDir(), 'out')
    const big = Buffer.alloc(8192 * 40 + 100) // zero pages, data pages, a partial last page
    big.fill(7, 8192 * 3, 8192 * 5)
    big.fill(9, 8192 * 20 + 5, 8192 * 20 + 6)
    big.fill(1, big.length - 50)
    const entry = tarEntry('big.bin', '')
    // Patch size and content of the hand-made entry.
    const header = entry.subarray(0, 512)
    header.write(big.length.toString(8).padStart(11, '0') + '\0', 124)
    header.fill(0x20, 148, 156)
    let sum = 0
    for (const b of header) sum += b
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
    const padded = Buffer.alloc(Math.ceil(big.length / 512) * 512)
    big.copy(padded)
    extractTar(tar(header, padded), dir)
    const {readFile} = await import('node:fs/promises')
    expect((await readFile(path.join(dir, 'big.bin'))).equals(big)).toBe(true)
  })

  it('refuses entries that escape the target directory', async () => {
    const dir = path.join(await tempDir(), 'out')
    expect(() => extractTar(tar(tarEntry('../evil.txt', 'x')), dir)).toThrow(TarFormatError)
    expect(existsSync(path.join(dir, '..', 'evil.txt'))).toBe(false)
  })

  it('detects a corrupted header', () => {
    const archive = tar(tarEntry('a.txt', 'x'))
    archive[10] = archive[10]! ^ 0xff
    expect(() => readTar(archive)).toThrow(/checksum/)
  })

  it('packs a directory that extracts to the same tree, leaving out what it is told to', async () => {
    const {readFile} = await import('node:fs/promises')
    const src = path.join(await tempDir(), 'src')
    const long = `${'deep/'.repeat(25)}name-${'x'.repeat(60)}` // > 100 bytes: needs the ustar prefix
    const files: Record<string, Buffer> = {
      PG_VERSION: Buffer.from('18\n'),
      'base/5/1259': Buffer.alloc(8192 * 20, 3),
      'base/5/1259_fsm': Buffer.alloc(8192, 1),
      'base/5/1259_vm': Buffer.alloc(8192, 2),
      'base/5/empty': Buffer.alloc(0),
      'postmaster.pid': Buffer.from('42'),
      [long]: Buffer.from('long name'),
    }
    for (const [name, data] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, name)), {recursive: true})
      await writeFile(path.join(src, name), data)
    }
    await mkdir(path.join(src, 'pg_notify'))
    const archive = packDirectory(src, leftOutOfTemplate)
    const names = readTar(archive).map((e) => e.name)
    expect(names).toContain('pg_notify/')
    expect(names.filter((n) => /_fsm$|_vm$|postmaster\.pid$/.test(n))).toEqual([])

    const out = path.join(await tempDir(), 'out')
    expect(extractTar(archive, out)).toBe(4)
    for (const name of ['PG_VERSION', 'base/5/1259', 'base/5/empty', long]) {
      expect((await readFile(path.join(out, name))).equals(files[name]!)).toBe(true)
    }
    expect(existsSync(path.join(out, 'base/5/1259_fsm'))).toBe(false)
    expect(existsSync(path.join(out, 'pg_notify'))).toBe(true)
  })

  it('restoreTemplate leaves nothing behind on a damaged archive', async () => {
    const base = await tempDir()
    const bad = path.join(base, 'bad.tar.gz')
    await writeFile(bad, gzipSync(Buffer.concat([tarEntry('ok.txt', 'x'), Buffer.from('garbage'.repeat(100))])))
    await expect(restoreTemplate(bad, path.join(base, 'out'))).rejects.toThrow()
    expect(existsSync(path.join(base, 'out'))).toBe(false)
  })
})

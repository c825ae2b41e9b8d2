/**
 * Writes files as one unit: everything this run creates or changes is recorded, and
 * `rollback()` puts the disk back as it was (created files and directories removed,
 * changed files restored with their mode). Used by `lobu init` so a failure mid-way never
 * leaves a half-made project behind.
 */
import {constants as fsc} from 'node:fs'
import * as fs from 'node:fs/promises'
import * as path from 'node:path'

interface Backup {
  path: string
  content: Buffer
  mode: number
}

export class FileTransaction {
  /** Files and directories this run created, in creation order. */
  private readonly created: {path: string; dir: boolean}[] = []
  private readonly backups: Backup[] = []

  /** Create `dir` and every missing parent, recording each one created. */
  async ensureDir(dir: string): Promise<void> {
    const missing: string[] = []
    let current = path.resolve(dir)
    for (;;) {
      const stat = await fs.stat(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined
        throw error
      })
      if (stat) {
        if (!stat.isDirectory()) throw Object.assign(new Error(`${current} is not a directory`), {code: 'ENOTDIR'})
        break
      }
      missing.unshift(current)
      const parent = path.dirname(current)
      if (parent === current) break
      current = parent
    }
    for (const d of missing) {
      await fs.mkdir(d)
      this.created.push({path: d, dir: true})
    }
  }

  /** Create a new file; fails if something already exists at `file`. */
  async create(file: string, content: string, mode = 0o644): Promise<void> {
    await this.ensureDir(path.dirname(file))
    const handle = await fs.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode)
    this.created.push({path: file, dir: false})
    try {
      await handle.writeFile(content)
      // The mode given to open() is reduced by the umask; make it exact.
      await handle.chmod(mode)
    } finally {
      await handle.close()
    }
  }

  /** Replace the content of an existing file, keeping a backup for rollback. */
  async replace(file: string, content: string, mode?: number): Promise<void> {
    const stat = await fs.stat(file)
    const previous = await fs.readFile(file)
    this.backups.push({path: file, content: previous, mode: stat.mode & 0o7777})
    await fs.writeFile(file, content)
    if (mode !== undefined) await fs.chmod(file, mode)
  }

  /** Undo everything, newest first. Best effort: keeps going past individual failures. */
  async rollback(): Promise<void> {
    for (const b of [...this.backups].reverse()) {
      await fs.writeFile(b.path, b.content).catch(() => {})
      await fs.chmod(b.path, b.mode).catch(() => {})
    }
    for (const entry of [...this.created].reverse()) {
      // A directory this run created holds nothing older than this run: remove it whole.
      await fs.rm(entry.path, {force: true, recursive: entry.dir}).catch(() => {})
    }
    this.created.length = 0
    this.backups.length = 0
  }
}

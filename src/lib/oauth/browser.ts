/**
 * Opening a URL in the user's browser — only on a desktop terminal: a TTY, not CI, and a
 * graphical session (macOS, Windows, or DISPLAY / WAYLAND_DISPLAY on other systems).
 */
import {spawn} from 'node:child_process'

export interface BrowserEnvironment {
  env?: NodeJS.ProcessEnv
  platform?: NodeJS.Platform
  /** Whether stderr (where the URL is printed) is a terminal. */
  isTTY?: boolean
}

function set(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false'
}

/** True when opening a browser makes sense here. `--no-browser` is checked by the caller. */
export function canOpenBrowser(opts: BrowserEnvironment = {}): boolean {
  const env = opts.env ?? process.env
  const platform = opts.platform ?? process.platform
  const tty = opts.isTTY ?? Boolean(process.stderr.isTTY)
  if (!tty || set(env.CI)) return false
  if (platform === 'darwin' || platform === 'win32') return true
  return set(env.DISPLAY) || set(env.WAYLAND_DISPLAY)
}

/** Open `url` with the system's opener, detached; false when that could not be started. */
export function openBrowser(url: string, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  const [command, args] =
    platform === 'darwin' ? ['open', [url]] : platform === 'win32' ? ['rundll32', ['url.dll,FileProtocolHandler', url]] : ['xdg-open', [url]]
  return new Promise((resolve) => {
    try {
      const child = spawn(command, args, {detached: true, stdio: 'ignore'})
      child.once('error', () => resolve(false))
      child.once('spawn', () => {
        child.unref()
        resolve(true)
      })
    } catch {
      resolve(false)
    }
  })
}

import {describe, expect, it} from 'vitest'

import {canOpenBrowser} from '../../../src/lib/oauth/browser.js'

describe('canOpenBrowser', () => {
  it('only on a desktop terminal: a TTY, not CI, a graphical session', () => {
    expect(canOpenBrowser({platform: 'darwin', env: {}, isTTY: true})).toBe(true)
    expect(canOpenBrowser({platform: 'win32', env: {}, isTTY: true})).toBe(true)
    expect(canOpenBrowser({platform: 'linux', env: {DISPLAY: ':0'}, isTTY: true})).toBe(true)
    expect(canOpenBrowser({platform: 'linux', env: {WAYLAND_DISPLAY: 'wayland-0'}, isTTY: true})).toBe(true)
    expect(canOpenBrowser({platform: 'linux', env: {}, isTTY: true})).toBe(false)
    expect(canOpenBrowser({platform: 'darwin', env: {CI: 'true'}, isTTY: true})).toBe(false)
    expect(canOpenBrowser({platform: 'darwin', env: {CI: '0'}, isTTY: true})).toBe(true)
    expect(canOpenBrowser({platform: 'darwin', env: {}, isTTY: false})).toBe(false)
  })
})

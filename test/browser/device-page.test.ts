/**
 * The device-login page (`GET /device`) in a real browser: headless Chromium from the system
 * (Debian's /usr/bin/chromium, or $LOBU_CHROMIUM) driven by playwright-core. A person enters the
 * code, then approves, denies, or types a wrong password. A screenshot of each step is kept in
 * test-results/device-page/ (gitignored). Skipped, saying so, only where no Chromium is installed.
 */
import {existsSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {chromium, type BrowserContext, type Page} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {REPO_ROOT} from '../e2e/helpers.js'
import {PASSWORD, startOAuthGateway, type OAuthTestGateway} from '../lib/gateway/oauth/helpers.js'

const CHROMIUM = process.env.LOBU_CHROMIUM ?? '/usr/bin/chromium'
const HAVE_CHROMIUM = existsSync(CHROMIUM)
const SHOTS = path.join(REPO_ROOT, 'test-results', 'device-page')
const GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

if (!HAVE_CHROMIUM) console.warn(`device-page browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set LOBU_CHROMIUM)`)

describe.skipIf(!HAVE_CHROMIUM)('the device-login page in Chromium', () => {
  let gw: OAuthTestGateway
  let acme: Awaited<ReturnType<OAuthTestGateway['passwordOrg']>>
  let browser: BrowserContext
  let profile: string

  beforeAll(async () => {
    mkdirSync(SHOTS, {recursive: true})
    gw = await startOAuthGateway('pglite')
    acme = await gw.passwordOrg('acme')
    profile = mkdtempSync(path.join(tmpdir(), 'lobu-chromium-'))
    // A new empty profile (user data dir) for this run.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 30_000,
    })
  })
  afterAll(async () => {
    await browser?.close()
    await gw?.close()
    if (profile) rmSync(profile, {recursive: true, force: true})
  })

  const newCode = async () => {
    const res = await gw.api('/oauth/device/code', {token: null, body: {client_id: 'lobu-cli', scope: 'chat agents:read'}})
    expect(res.status, res.text).toBe(200)
    return res.body as {device_code: string; user_code: string}
  }
  const poll = (deviceCode: string) => gw.form('/oauth/token', {grant_type: GRANT, device_code: deviceCode})
  const shot = (page: Page, name: string) => page.screenshot({path: path.join(SHOTS, `${name}.png`), fullPage: true})

  /** Open /device, type the code as a person would (lower case, no dash), continue. */
  const enterCode = async (page: Page, userCode: string, name: string) => {
    await page.goto(`${gw.url}/device`)
    await shot(page, `${name}-1-code-form`)
    await page.fill('#user_code', userCode.replace('-', '').toLowerCase())
    await page.click('button[type=submit]')
    await page.waitForSelector('#email')
    const text = await page.textContent('body')
    expect(text).toContain('lobu-cli')
    expect(text).toContain('chat')
    await shot(page, `${name}-2-request`)
  }

  it('entering the code and approving logs the device in', async () => {
    const page = await browser.newPage()
    const code = await newCode()
    await enterCode(page, code.user_code, 'approve')
    await page.fill('#email', acme.email)
    await page.fill('#password', PASSWORD)
    await shot(page, 'approve-3-filled')
    await page.click('button[value=approve]')
    await page.waitForLoadState()
    await shot(page, 'approve-4-done')
    expect(await page.textContent('body')).toMatch(/approved|signed in|you can close/i)
    const token = await poll(code.device_code)
    expect(token.status, token.text).toBe(200)
    expect(token.body.access_token).toMatch(/^lobu_pat_/)
    await page.close()
  })

  it('denying refuses the device', async () => {
    const page = await browser.newPage()
    const code = await newCode()
    await enterCode(page, code.user_code, 'deny')
    await page.fill('#email', acme.email)
    await page.fill('#password', PASSWORD)
    await page.click('button[value=deny]')
    await page.waitForLoadState()
    await shot(page, 'deny-3-done')
    expect(await page.textContent('body')).toMatch(/denied/i)
    const token = await poll(code.device_code)
    expect(token.status).toBe(400)
    expect(token.body.error).toBe('access_denied')
    await page.close()
  })

  it('a wrong password shows the form again with an error, and the device stays pending', async () => {
    const page = await browser.newPage()
    const code = await newCode()
    await enterCode(page, code.user_code, 'wrong-password')
    await page.fill('#email', acme.email)
    await page.fill('#password', 'not the password')
    await page.click('button[value=approve]')
    await page.waitForSelector('#password')
    await shot(page, 'wrong-password-3-error')
    expect(await page.textContent('body')).toMatch(/password/i)
    // The email is kept, the password is not.
    expect(await page.inputValue('#email')).toBe(acme.email)
    expect(await page.inputValue('#password')).toBe('')
    const token = await poll(code.device_code)
    expect(token.status).toBe(400)
    expect(token.body.error).toBe('authorization_pending')
    await page.close()
  })

  it('an unknown code is refused on the code form', async () => {
    const page = await browser.newPage()
    await page.goto(`${gw.url}/device`)
    await page.fill('#user_code', 'BCDF-GHJK')
    await page.click('button[type=submit]')
    await page.waitForSelector('#user_code')
    await shot(page, 'unknown-code')
    expect(await page.textContent('body')).toMatch(/code/i)
    await page.close()
  })
})

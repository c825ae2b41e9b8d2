/**
 * The few HTML pages of the gateway (device login, OAuth callback): self-contained (inline
 * CSS, no script, no external asset), every value escaped, served with a CSP that forbids
 * scripts and framing and only lets forms post to this gateway.
 */
import type {Context} from 'hono'

import type {PendingRequest} from './device.js'

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[ch]!)
}

const CSS = `
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f7f9;color:#1d2330;margin:0}
main{max-width:26rem;margin:8vh auto;background:#fff;border:1px solid #dde1e8;border-radius:10px;padding:1.75rem 2rem}
h1{font-size:1.25rem;margin:0 0 1rem}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.5rem .6rem;border:1px solid #c4cad4;border-radius:6px;font:inherit}
.code{font:600 1.3rem ui-monospace,SFMono-Regular,Menlo,monospace;letter-spacing:.12em}
.buttons{display:flex;gap:.75rem;margin-top:1.25rem}
button{flex:1;padding:.6rem;border-radius:6px;border:1px solid #c4cad4;background:#fff;font:inherit;cursor:pointer}
button.primary{background:#2456d3;border-color:#2456d3;color:#fff}
.error{background:#fdecec;border:1px solid #f3b8b8;color:#8a1c1c;padding:.6rem .75rem;border-radius:6px}
.ok{background:#eaf7ee;border:1px solid #b5e0c2;color:#1c5a2e;padding:.6rem .75rem;border-radius:6px}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem .75rem;margin:0 0 .5rem}
dt{color:#5b6474}dd{margin:0;word-break:break-word}
.hint{color:#5b6474;font-size:.9rem}
`

export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/** A complete page with the security headers. */
export function htmlPage(c: Context, status: 200 | 400 | 401 | 403 | 429 | 502 | 503, title: string, body: string): Response {
  c.header('content-security-policy', PAGE_CSP)
  c.header('x-frame-options', 'DENY')
  // Not no-referrer: under it a browser sends `Origin: null` with the page's own form POST, which
  // the origin guard refuses (the device page could never be submitted). same-origin sends no
  // referrer to any other site, and the real origin to this one.
  c.header('referrer-policy', 'same-origin')
  c.header('cache-control', 'no-store')
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · Lobu</title><style>${CSS}</style></head>
<body><main>
${body}
</main></body></html>
`
  return c.html(html, status)
}

function requestDetails(request: PendingRequest): string {
  return `<dl>
<dt>Code</dt><dd class="code">${escapeHtml(request.userCode)}</dd>
<dt>Client</dt><dd>${escapeHtml(request.clientId)}</dd>
<dt>Scopes</dt><dd>${request.scopes.map(escapeHtml).join(', ') || '(none)'}</dd>
</dl>`
}

/** Step 1: ask for the code shown in the terminal. */
export function codeForm(error?: string): string {
  return `<h1>Log in a device</h1>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="get" action="/device">
<label for="user_code">Code shown in your terminal</label>
<input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" placeholder="XXXX-XXXX" required autofocus>
<div class="buttons"><button class="primary" type="submit">Continue</button></div>
</form>`
}

/** Step 2: who asks, and the login form with Approve / Deny. */
export function approveForm(request: PendingRequest, error?: string, values: {email?: string; org?: string} = {}): string {
  return `<h1>Approve this login?</h1>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<p>A program asks for a token to act as you on this gateway. Approve only if you started it and the code matches your terminal.</p>
${requestDetails(request)}
<form method="post" action="/device">
<input type="hidden" name="user_code" value="${escapeHtml(request.userCode)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" value="${escapeHtml(values.email ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<label for="org">Organization <span class="hint">(only if you belong to several)</span></label>
<input id="org" name="org" autocomplete="off" value="${escapeHtml(values.org ?? '')}">
<div class="buttons">
<button class="primary" type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</div>
</form>`
}

export function messagePage(kind: 'ok' | 'error', heading: string, message: string): string {
  return `<h1>${escapeHtml(heading)}</h1>
<p class="${kind}">${escapeHtml(message)}</p>`
}

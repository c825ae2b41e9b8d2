/**
 * The template renderer of `lobu init`: replaces `{{name}}` (spaces inside the braces allowed)
 * with `vars[name]`. One pass, so a value that itself contains `{{…}}` is left as is.
 * A placeholder without a value is a bug in the caller and throws.
 */
export type TemplateVars = Readonly<Record<string, string | number>>

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g

export function render(template: string, vars: TemplateVars, source = 'template'): string {
  const missing = new Set<string>()
  const out = template.replaceAll(PLACEHOLDER, (_match, name: string) => {
    if (!Object.hasOwn(vars, name)) {
      missing.add(name)
      return ''
    }
    return String(vars[name])
  })
  if (missing.size > 0) {
    throw new Error(`${source}: no value for ${[...missing].map((n) => `{{${n}}}`).join(', ')}`)
  }
  return out
}

/** The names of the placeholders used in a template, in order of first use. */
export function placeholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))]
}

/** Escape a value for use inside a TOML basic string (`"…"`). */
export function tomlEscape(value: string): string {
  return value.replaceAll(/[\\"\u0000-\u001f\u007f]/g, (ch) => {
    switch (ch) {
      case '\\':
        return '\\\\'
      case '"':
        return '\\"'
      case '\n':
        return '\\n'
      case '\t':
        return '\\t'
      case '\r':
        return '\\r'
      default:
        return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`
    }
  })
}

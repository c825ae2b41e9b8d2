/**
 * `$NAME` references: a value that is exactly `$NAME` or `${NAME}`, NAME matching
 * `[A-Z_][A-Z0-9_]*`, reads the environment (process env over the project's .env).
 */
const REF = /^\$(?:([A-Z_][A-Z0-9_]*)|\{([A-Z_][A-Z0-9_]*)\})$/
/** Something that was meant as a reference but is not a valid one (`$openai_key`, `${}`). */
const ATTEMPTED_REF = /^\$(?:[A-Za-z0-9_]*|\{[^}]*\})$/

/** The variable a value references, or undefined when it is a literal. */
export function parseEnvRef(value: string): string | undefined {
  const match = REF.exec(value)
  return match ? (match[1] ?? match[2]) : undefined
}

/** True for `$lower`, `$1X`, `${}` …: looks like a reference but is not a valid one. */
export function isMalformedEnvRef(value: string): boolean {
  return ATTEMPTED_REF.test(value) && parseEnvRef(value) === undefined
}

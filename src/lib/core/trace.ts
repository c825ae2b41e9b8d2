/**
 * Boot tracing for performance work: with LOBU_TRACE=1, `trace('label')` writes
 * `[trace] <ms since process start> label` to stderr. Costs one boolean test otherwise.
 */
const enabled = Boolean(process.env.LOBU_TRACE)

export function trace(label: string): void {
  if (enabled) process.stderr.write(`[trace] ${performance.now().toFixed(1).padStart(7)} ms  ${label}\n`)
}

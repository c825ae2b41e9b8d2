// The store's former way of recognising its open transaction (until store/index.ts took
// AsyncLocalStorage), kept here so that bench/store-tx.mjs can time both ways in one run: fn runs
// inside a function named after its transaction, and V8's async stack traces carry that name
// through every `await` of fn's call chain (not through timers, callbacks or microtasks). Reading
// the name back means capturing the whole stack with a swapped global Error.prepareStackTrace.
// A TxContext of src/lib/gateway/store/index.ts; not a benchmark itself.

const MARK = 'lobuStoreTx'
let contexts = 0

export function stackTxContext() {
  const contextId = ++contexts
  const pattern = new RegExp(`^${MARK}_${contextId}_(\\d+)$`)
  return {
    run(id, fn) {
      const name = `${MARK}_${contextId}_${id}`
      const named = {
        async [name]() {
          return await fn()
        },
      }[name]
      return named()
    },
    current() {
      for (const name of stackFunctionNames()) {
        const match = name === null ? null : pattern.exec(name)
        if (match) return Number(match[1])
      }
      return undefined
    },
    idle() {},
  }
}

/** The function names of the current stack, async frames included, read from V8's call sites. */
function stackFunctionNames() {
  const prepare = Error.prepareStackTrace
  const limit = Error.stackTraceLimit
  Error.prepareStackTrace = (_err, sites) => sites
  Error.stackTraceLimit = Infinity
  try {
    const holder = {}
    Error.captureStackTrace(holder, stackFunctionNames)
    return holder.stack.map((site) => site.getFunctionName())
  } finally {
    Error.prepareStackTrace = prepare
    Error.stackTraceLimit = limit
  }
}

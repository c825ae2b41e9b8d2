/**
 * SIGINT / SIGTERM for a process that boots the embedded gateway (`lobu run`, and `lobu chat`
 * when it boots one). Installed at the very start, so that a signal at any moment of the boot
 * stops it cleanly: the boot checks `signal` between its stages, closes what it opened and
 * releases the data-dir lock, and the command exits 130 (SIGINT) or 143 (SIGTERM). Once the
 * gateway is up, the same signal starts its shutdown (exit 0). A second signal exits at once.
 */
import {LobuError} from '../core/errors.js'

export type StopSignal = 'SIGINT' | 'SIGTERM'

/** The exit code of a process stopped by `signal` before it was ready: 128 + its number. */
export function exitCodeOf(signal: StopSignal): number {
  return signal === 'SIGINT' ? 130 : 143
}

/** The boot was stopped by a signal: exit 130 / 143, nothing left behind. */
export class BootInterrupted extends LobuError {
  readonly signal: StopSignal
  /** 130 or 143: the command exits with it (a SIGTERM is not the plain `interrupted` 130). */
  readonly exitCode: number
  constructor(signal: StopSignal) {
    super(`${signal} received: the boot was stopped (lock released, nothing left running)`, 'interrupted', {code: 'INTERRUPTED'})
    this.signal = signal
    this.exitCode = exitCodeOf(signal)
  }
}

export interface StopSignals {
  /** Aborted (reason: a BootInterrupted) at the first signal. */
  readonly signal: AbortSignal
  /** The first signal received, if any. */
  readonly received: StopSignal | undefined
  /** Remove the handlers (the default behaviour of the signals comes back). */
  dispose(): void
}

/**
 * Handle SIGINT and SIGTERM from now on: the first aborts `signal`, a second one exits at once
 * (130 / 143) after `onSecond` (a line for stderr).
 */
export function installStopSignals(opts: {onSecond?: (signal: StopSignal) => void} = {}): StopSignals {
  const controller = new AbortController()
  let received: StopSignal | undefined
  const handle = (signal: StopSignal) => {
    if (received) {
      opts.onSecond?.(signal)
      process.exit(exitCodeOf(signal))
    }
    received = signal
    controller.abort(new BootInterrupted(signal))
  }
  const onInt = () => handle('SIGINT')
  const onTerm = () => handle('SIGTERM')
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  return {
    signal: controller.signal,
    get received() {
      return received
    },
    dispose() {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
    },
  }
}

/**
 * A test hook at each boot stage: with `LOBU_TEST_BOOT_PAUSE=<stage>` the boot writes
 * `[pause] <stage>` to stderr and waits there until `signal` is aborted (the e2e tests send a
 * signal at a known moment of the boot). Does nothing otherwise.
 */
export async function pauseForTests(stage: string, signal: AbortSignal | undefined, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!signal || env.LOBU_TEST_BOOT_PAUSE !== stage) return
  process.stderr.write(`[pause] ${stage}\n`)
  if (signal.aborted) return
  await new Promise<void>((resolve) => {
    const keepAlive = setInterval(() => {}, 1000)
    signal.addEventListener('abort', () => (clearInterval(keepAlive), resolve()), {once: true})
  })
}

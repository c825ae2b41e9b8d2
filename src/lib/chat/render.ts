/**
 * How `lobu chat` shows a turn.
 *
 * - human: a spinner on stderr (TTY only) until the first text; text deltas to stdout (as
 *   received when stdout is a pipe or a file, neutralised on a terminal); a final newline (tool events are shown by ./tools.ts, loaded on the first one);
 * - json: one JSON object per event on stdout (`{"id","event","data"}`), nothing else.
 */
import type {ChatEvent} from './stream.js'

export interface Output {
  write(text: string): void
}

export interface Spinner {
  stop(): void
}

export interface Renderer {
  event(event: ChatEvent): void
  /**
   * Before something else writes to the terminal (a tool line, a question): stop the spinner and
   * end the open stdout line.
   */
  pause(): void
  /** A line of progress on stderr (not in --json mode). */
  note(line: string): void
  /** End the output (stop the spinner, end the line). Idempotent. */
  finish(): void
}

export interface HumanRendererOptions {
  stdout: Output
  stderr: Output
  /** A spinner already started on stderr, or undefined when stderr is not a terminal. */
  spinner?: Spinner
  dim?: (text: string) => string
  /** Print usage (tokens, provider, model) after the answer. */
  verbose?: boolean
  /**
   * Applied to each text delta before it is written (on a terminal: control characters made
   * visible, so a model cannot send escape sequences to it). Default: written as received.
   */
  text?: (text: string) => string
}

export function humanRenderer(opts: HumanRendererOptions): Renderer {
  const dim = opts.dim ?? ((t: string) => t)
  let spinner = opts.spinner
  let wrote = false
  let lastChar = ''
  let meta: {provider?: unknown; model?: unknown} = {}
  let finished = false
  const stopSpinner = () => {
    spinner?.stop()
    spinner = undefined
  }
  const endLine = () => {
    if (wrote && lastChar !== '\n') {
      opts.stdout.write('\n')
      lastChar = '\n'
    }
  }
  return {
    event(ev) {
      switch (ev.event) {
        case 'turn':
          meta = {provider: ev.data.provider, model: ev.data.model}
          break
        case 'delta': {
          const text = typeof ev.data.text === 'string' ? ev.data.text : ''
          if (!text) break
          stopSpinner()
          const shown = opts.text ? opts.text(text) : text
          opts.stdout.write(shown)
          wrote = true
          lastChar = shown.at(-1) ?? lastChar
          break
        }
        case 'done': {
          stopSpinner()
          endLine()
          if (opts.verbose) {
            const usage = (ev.data.usage ?? {}) as {inputTokens?: number; outputTokens?: number}
            opts.stderr.write(dim(`${String(meta.provider ?? '?')} ${String(meta.model ?? '?')} · ${usage.inputTokens ?? 0} tokens in, ${usage.outputTokens ?? 0} out · ${String(ev.data.finishReason ?? '')}`) + '\n')
          }
          break
        }
        case 'error':
          stopSpinner()
          endLine()
          break
        default:
          break
      }
    },
    pause() {
      stopSpinner()
      endLine()
    },
    note(line) {
      opts.stderr.write(line + '\n')
    },
    finish() {
      if (finished) return
      finished = true
      stopSpinner()
      endLine()
    },
  }
}

export function jsonRenderer(stdout: Output): Renderer {
  return {
    event(ev) {
      stdout.write(JSON.stringify({...(ev.id === undefined ? {} : {id: ev.id}), event: ev.event, data: ev.data}) + '\n')
    },
    pause() {},
    note() {},
    finish() {},
  }
}

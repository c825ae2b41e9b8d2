/**
 * Where the prompt of `lobu chat` comes from: the argument, or stdin when the argument is `-`
 * or omitted while stdin is piped.
 */
import {UsageError} from '../core/errors.js'
import {readAllStdin, stdinHasData} from '../cli/stdin.js'

export interface PromptSource {
  arg?: string
  stdin: NodeJS.ReadableStream & {isTTY?: boolean}
  /** Whether stdin carries data (default: cli/stdin.ts decides for process.stdin; another stream has data unless it is a TTY). */
  hasData?: boolean
}

export async function readPrompt({arg, stdin, hasData = stdin === process.stdin ? stdinHasData() : !stdin.isTTY}: PromptSource): Promise<string> {
  let text: string
  let from: string
  if (arg !== undefined && arg !== '-') {
    text = arg
    from = 'the PROMPT argument'
  } else if (arg === '-' || hasData) {
    text = await readAllStdin(stdin)
    from = 'stdin'
  } else {
    throw new UsageError('missing PROMPT', {code: 'PROMPT_REQUIRED', hint: 'lobu chat "hello", or pipe it: echo hello | lobu chat'})
  }
  if (text.trim() === '') {
    throw new UsageError(`the prompt is empty (from ${from})`, {code: 'PROMPT_REQUIRED', hint: 'lobu chat "hello", or pipe it: echo hello | lobu chat'})
  }
  // A piped prompt usually ends with the newline of its last line: not part of the question.
  return from === 'stdin' ? text.replace(/\r?\n$/, '') : text
}

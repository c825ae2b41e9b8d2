/**
 * Where the prompt of `lobu chat` comes from: the argument, or stdin when the argument is `-`
 * or omitted while stdin is piped.
 */
import {UsageError} from '../core/errors.js'

export interface PromptSource {
  arg?: string
  stdin: NodeJS.ReadableStream & {isTTY?: boolean}
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

export async function readPrompt({arg, stdin}: PromptSource): Promise<string> {
  let text: string
  let from: string
  if (arg !== undefined && arg !== '-') {
    text = arg
    from = 'the PROMPT argument'
  } else if (arg === '-' || !stdin.isTTY) {
    text = await readAll(stdin)
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

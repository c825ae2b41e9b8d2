/**
 * oclif's `command_not_found` hook: an unknown command is a usage error (exit 2) with a "did you
 * mean" when one is close, and words after a real command (`lobu whoami extra`) are named as the
 * unexpected argument they are. Ids are shown with spaces (`chta hi`), as users type them.
 * Loaded by oclif only when no command matched.
 */
import type {Hook} from '@oclif/core'

import {closest} from '../config/suggest.js'

const hook: Hook<'command_not_found'> = async function (opts) {
  const {config} = opts
  const bin = config.bin
  const words = opts.id.split(':')
  const typed = words.join(' ')
  const lines: string[] = []

  // The longest prefix that is a command: the rest are arguments it does not take.
  let command: string | undefined
  for (let i = words.length - 1; i > 0 && !command; i--) {
    const prefix = words.slice(0, i).join(':')
    if (config.findCommand(prefix)) command = prefix
  }
  if (command) {
    const extra = words.slice(command.split(':').length)
    const name = command.replaceAll(':', ' ')
    lines.push(`Error: unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((w) => `"${w}"`).join(' ')}: \`${bin} ${name}\` takes ${extra.length > 1 ? 'none of them' : 'no such argument'}`)
    lines.push(`Hint: See: ${bin} ${name} --help`)
  } else {
    const visible = config.commands.filter((c) => !c.hidden)
    const ids = [...visible.map((c) => c.id), ...visible.flatMap((c) => c.aliases), ...config.topics.map((t) => t.name)]
    const suggestion = closest(opts.id, ids) ?? closest(words[0]!, ids.filter((id) => !id.includes(':')))
    lines.push(`Error: "${typed}" is not a ${bin} command`)
    const topic = config.findTopic(words[0]!) ? ` ${words[0]}` : ''
    lines.push(suggestion ? `Hint: Did you mean \`${bin} ${suggestion.replaceAll(':', ' ')}\`? See: ${bin} help${topic}` : `Hint: See: ${bin} help${topic}`)
  }
  process.stderr.write(lines.join('\n') + '\n')
  this.exit(2)
}

export default hook

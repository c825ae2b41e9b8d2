import {LobuError} from '../core/errors.js'

/** A yes/no question on stderr (stdout carries the plan); Ctrl-C exits 130. Loads inquirer lazily. */
export async function confirmOnTerminal(message: string): Promise<boolean> {
  const {confirm} = await import('@inquirer/prompts')
  try {
    return await confirm({message, default: false}, {output: process.stderr})
  } catch (error) {
    if ((error as {name?: string} | null)?.name === 'ExitPromptError') {
      throw new LobuError('cancelled: nothing was applied', 'interrupted', {code: 'INTERRUPTED'})
    }
    throw error
  }
}

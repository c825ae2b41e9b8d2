import {afterAll, beforeAll, beforeEach} from 'vitest'

import {startFakeProvider, type FakeProvider} from '../../../support/fake-provider.js'
import {ProviderError, closeProviderAgent, streamTurn, type Dialect, type ProviderEvent, type ProviderTarget, type TurnInput} from '../../../../src/lib/gateway/providers/index.js'

/**
 * One fake provider for a test file: started before its tests, reset before each, closed (with
 * the provider layer's connection pool) after them. `onStart` receives it.
 */
export function withFakeProvider(onStart: (fake: FakeProvider) => void): void {
  let fake: FakeProvider | undefined
  beforeAll(async () => {
    fake = await startFakeProvider()
    onStart(fake)
  })
  afterAll(async () => {
    await closeProviderAgent()
    await fake?.close()
  })
  beforeEach(() => fake?.reset())
}

export const KEY = 'sk-test-Zq81mXv0Lw3Np7Rk2Ys5Tb9U'

export const MODELS: Record<Dialect, string> = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-sonnet-4-5',
  gemini: 'gemini-2.5-flash',
}

export function targetFor(fake: FakeProvider, dialect: Dialect, overrides: Partial<ProviderTarget> = {}): ProviderTarget {
  return {id: dialect, dialect, baseUrl: fake.urls[dialect], model: MODELS[dialect], apiKey: KEY, ...overrides}
}

export interface Outcome {
  events: ProviderEvent[]
  text: string
  done?: Extract<ProviderEvent, {type: 'done'}>
  error?: ProviderError
}

/** Runs a turn to its end and returns what came out, the error included (never throws). */
export async function run(target: ProviderTarget, extra: Partial<TurnInput> = {}, onEvent?: (event: ProviderEvent) => void): Promise<Outcome> {
  const outcome: Outcome = {events: [], text: ''}
  try {
    for await (const event of streamTurn({
      target,
      system: 'You are terse.',
      messages: [{role: 'user', content: 'hello there'}],
      signal: new AbortController().signal,
      ...extra,
    })) {
      outcome.events.push(event)
      if (event.type === 'delta') outcome.text += event.text
      if (event.type === 'done') outcome.done = event
      onEvent?.(event)
    }
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err
    outcome.error = err
  }
  return outcome
}

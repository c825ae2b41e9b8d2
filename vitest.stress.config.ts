import {defineConfig} from 'vitest/config'

/**
 * `npm run test:stress`: the stress suite (test/stress), kept out of `npm test`. It runs the
 * gateway in-process and the built CLI (build first), one file at a time.
 */
export default defineConfig({
  test: {
    include: ['test/stress/**/*.test.ts'],
    testTimeout: 480_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: {forks: {maxForks: 1, minForks: 1}},
  },
})

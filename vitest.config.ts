import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The stress suite runs apart: npm run test:stress (vitest.stress.config.ts).
    exclude: ['**/node_modules/**', 'test/stress/**'],
    // Bounds for a hang, not for speed: an e2e test boots lobu several times, and on a shared
    // 2-core machine (load average near 20) one took more than 60 s without anything wrong.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: {forks: {maxForks: 2, minForks: 1}},
    globalSetup: [],
  },
})

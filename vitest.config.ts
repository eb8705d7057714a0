import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Kernel and model tests are CPU-heavy; two cores only.
    pool: 'forks',
    maxWorkers: 2,
  },
});

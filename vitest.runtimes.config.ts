import { defineConfig } from 'vitest/config';

// The runtime tests (`npm run test:runtimes`, part of `npm test`): the built library (dist/) in headless
// Chromium, WebKitGTK, Deno, Cloudflare's workerd, and the bundles themselves. One file at a time: browsers
// and model loads share two cores.
export default defineConfig({
  test: {
    include: ['test/runtimes/**/*.spec.mjs'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});

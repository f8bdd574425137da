import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** End-to-end tests of the wallet: real server, real bank simulator, headless Chromium. */
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: { conditions: ['@yika/source'] },
  ssr: { resolve: { conditions: ['@yika/source'], externalConditions: ['@yika/source'] } },
  test: {
    include: ['e2e/**/*.e2e.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One browser, one server: the steps run in order and share state.
    fileParallelism: false,
  },
});

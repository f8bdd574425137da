import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@yika/source'] },
  ssr: { resolve: { conditions: ['@yika/source'], externalConditions: ['@yika/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

import { defineConfig } from 'vitest/config';

// Two projects: `unit` runs pure, in-process tests in parallel; `cluster` runs the tests that use
// the local Kubernetes cluster, one file at a time (they share one node and one apiserver).
export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/env/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          globalSetup: ['test/env/global-setup.ts'],
        },
      },
    ],
  },
});

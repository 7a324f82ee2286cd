import { defineConfig } from 'vitest/config';

// Three projects: `unit` runs pure tests in parallel; `component` runs in-process servers over real
// sockets on 127.0.0.1; `cluster` runs the tests that use the local Kubernetes cluster, one file at
// a time (they share one node and one apiserver).
export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 },
      },
      {
        // In-process components over real sockets on 127.0.0.1 (proxies, servers); no cluster.
        test: { name: 'component', include: ['test/component/**/*.test.ts'], testTimeout: 30_000 },
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

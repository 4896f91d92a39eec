import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real registries, API servers, Prometheus and the exporter as its own process (Node
    // with tsx transpiling src/, tens of seconds on a loaded machine): a timeout is not what they
    // test, so it is generous. Tests that rely on it to catch a quadratic path set their own.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Files run in parallel processes; 2 cores here, so keep it modest.
    maxWorkers: 2,
  },
});

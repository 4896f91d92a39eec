import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real registries, API servers and Prometheus on loopback: give them room.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files run in parallel processes; 2 cores here, so keep it modest.
    maxWorkers: 2,
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Integration tests open many real sockets and spawn real peers; a shared 2-core machine
    // runs them more reliably a few files at a time.
    maxWorkers: 2,
    reporters: ['default'],
  },
});

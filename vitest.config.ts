import { defineConfig } from 'vitest/config';

/**
 * Integration tests that do not depend on which data plane carries TCP connections (QUIC is UDP, the install
 * test packs the package, the hello parser and health bookkeeping run without a router): run once.
 */
const PLANE_INDEPENDENT = [
  'test/integration/quic-*.test.ts',
  'test/integration/install.int.test.ts',
  'test/integration/client-hello.test.ts',
  'test/integration/health.test.ts',
  // Which plane runs is what it tests: it names the plane itself.
  'test/integration/data-plane.int.test.ts',
];

/** The rest of test/integration runs once per data plane, chosen by SNI_ROUTER_DATA_PLANE (src/config/operations.ts). */
const planeProject = (plane: 'node' | 'native') => ({
  extends: true,
  test: {
    name: plane,
    include: ['test/integration/**/*.test.ts'],
    exclude: ['test/integration/native/**', ...PLANE_INDEPENDENT],
    env: { SNI_ROUTER_DATA_PLANE: plane },
  },
});

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Integration tests open many real sockets and spawn real peers; a shared 2-core machine
    // runs them more reliably a few files at a time.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      // Unit tests, the native addon's own tests and the plane-independent integration tests: once.
      { extends: true, test: { name: 'once', include: ['test/unit/**/*.test.ts', 'test/integration/native/**/*.test.ts', ...PLANE_INDEPENDENT] } },
      planeProject('node'),
      planeProject('native'),
    ],
  },
});

import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Kernel tests build namespaces and send real traffic: give them time, and
    // keep parallelism modest on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'host', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/vm/**', 'test/e2e/vm-suites.test.ts'] },
      },
      {
        // test/vm/ runs inside a VM (test/vm/vitest.config.ts), booted by this one file, after
        // everything else: qemu emulates the CPU and would slow down the timed host tests.
        extends: true,
        test: { name: 'vm', include: ['test/e2e/vm-suites.test.ts'], sequence: { groupOrder: 1 } },
      },
    ],
  },
});

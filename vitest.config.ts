import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/vm/ runs inside a VM with an IPVS kernel (test/vm/vitest.config.ts), started by test/e2e/vm-suites.test.ts.
    exclude: [...configDefaults.exclude, 'test/vm/**'],
    // Kernel tests build namespaces and send real traffic: give them time, and
    // keep parallelism modest on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});

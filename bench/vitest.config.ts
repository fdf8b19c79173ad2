// Benchmarks run with vitest only as a TypeScript runner: `npm run bench:agent`.
// They are never part of `npm test` (whose config includes test/ only).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['bench/**/*.bench.ts'], testTimeout: 3_600_000, hookTimeout: 600_000, maxWorkers: 1 },
});

// The benchmark harness end to end at tiny sizes (`npm run bench -- --smoke`):
// it compiles, runs every section against the real agent and kernel, and
// writes a JSON holding all of them. No timing is asserted: the figures of a
// busy test machine mean nothing; that the harness works does.
import { expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireKernel } from '../support/netns.js';

const e2e = requireKernel();
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Runs node with args in the repository; fails with both outputs unless it exits 0. */
function node(args: string[], timeoutMs: number): void {
  const r = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
}

/** Every section the JSON must hold for each size, as paths into it. */
const SECTIONS = [
  'ruleset', 'agent', 'agent.listingFloor', 'agent.coldStart', 'agent.settled', 'agent.memoryBreakdown', 'agent.changes',
  'agent.changes.endpointAdded', 'agent.changes.endpointRemoved', 'agent.changes.serviceAdded', 'agent.churn.20/s',
  'agent.churn.100/s', 'agent.churn.20/s, --min-sync-period=1s', 'agent.idle', 'agent.nftElement', 'dataPlane', 'dataPlane.target', 'dataPlane.svcrouter',
  'dataPlane.kubeProxy', 'dataPlane.linear', 'floor',
];

e2e('bench harness', () => {
  it('runs every section in smoke mode and writes them all to its JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'svcrouter-bench-smoke-'));
    try {
      const out = join(dir, 'smoke.json');
      // dist/ is built by `npm test`'s pretest; the harness compiles against it.
      node(['node_modules/typescript/bin/tsc', '-p', 'bench/tsconfig.json'], 30_000);
      node(['dist-bench/bench/main.js', '--smoke', '--out', out], 150_000);
      const result = JSON.parse(readFileSync(out, 'utf8')) as { mode: string; sizes: Record<string, unknown>[]; targets: unknown[] };
      expect(result.mode).toBe('smoke');
      expect(Array.isArray(result.targets)).toBe(true);
      expect(result.sizes.length).toBeGreaterThan(0);
      for (const size of result.sizes) {
        const missing = SECTIONS.filter((path) => {
          const section = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], size);
          return typeof section !== 'object' || section === null || 'error' in section;
        });
        expect(missing).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 200_000);
});

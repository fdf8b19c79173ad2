// Measures svcrouter's nftables layout at scale on this kernel: full load of
// N services x M endpoints, then one service added, one endpoint added and
// one endpoint removed as incremental plans. Needs root: it re-runs itself in
// a throwaway network namespace (unshare -n), so nft is spawned there directly,
// as the agent spawns it on a node. Needs a build (npm run build).
//   node bench/nft-scale.mjs [--services 10000] [--endpoints 10] [--repeat 5]
import { execFileSync, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { clusterFrom } from '../dist/cli/pipeline.js';
import { renderTables } from '../dist/backends/nftables/render.js';
import { planTables } from '../dist/backends/nftables/plan.js';
import { loadConfig } from '../dist/config/load.js';
import { syntheticCluster } from './synthetic-cluster.mjs';

const { values } = parseArgs({ options: { services: { type: 'string', default: '10000' }, endpoints: { type: 'string', default: '10' }, repeat: { type: 'string', default: '5' }, inside: { type: 'boolean', default: false } } });
if (!values.inside) {
  const r = spawnSync('unshare', ['-n', process.execPath, ...process.argv.slice(1), '--inside'], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const N = Number(values.services), M = Number(values.endpoints), R = Number(values.repeat);
const cfg = loadConfig({ hostnameOverride: 'node-a', clusterCidr: '10.128.0.0/9,fd00:128::/32' });

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const nft = (script) => {
  const t0 = process.hrtime.bigint();
  execFileSync('nft', ['-f', '-'], { input: script, maxBuffer: 1 << 30 });
  return ms(t0);
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

{
  let t0 = process.hrtime.bigint();
  const base = syntheticCluster(N, M);
  const tables = clusterFrom(base, cfg).tables;
  const script = renderTables(tables);
  const renderMs = ms(t0);
  const elements = tables.reduce((n, t) => n + [...t.elements.values()].reduce((a, s) => a + s.size, 0), 0);
  const chains = tables.reduce((n, t) => n + t.chains.size, 0);
  const loadMs = nft(script);
  console.log(`${N} services x ${M} endpoints: ${elements} elements, ${chains} chains, ${(script.length / 1e6).toFixed(1)} MB script`);
  console.log(`  compute + render: ${renderMs.toFixed(0)} ms; full load (nft -f): ${loadMs.toFixed(0)} ms`);

  // Incremental changes, each planned against the state before it and applied alone.
  const extra = syntheticCluster(N + 1, M).slice(base.length); // one more service (and its slices)
  const floor = Array.from({ length: R }, () => nft('\n'));
  console.log(`  floor (an empty nft -f, same spawn path): median ${median(floor).toFixed(1)} ms`);
  const changes = {
    'add one service': (objs) => [...objs, ...extra],
    'add one endpoint': (objs) => objs.map((o) => o.raw.metadata?.name === 'svc-7-ipv4' ? { ...o, raw: { ...o.raw, endpoints: [...o.raw.endpoints, { addresses: ['10.250.0.1'], conditions: { ready: true } }] } } : o),
    'remove one endpoint': (objs) => objs.map((o) => o.raw.metadata?.name === 'svc-8-ipv4' ? { ...o, raw: { ...o.raw, endpoints: o.raw.endpoints.slice(1) } } : o),
  };
  for (const [name, change] of Object.entries(changes)) {
    const times = [], plans = [];
    for (let r = 0; r < R; r++) {
      const next = clusterFrom(change(base), cfg).tables;
      t0 = process.hrtime.bigint();
      const plan = planTables(tables, next);
      plans.push(ms(t0));
      times.push(nft(plan));
      nft(planTables(next, tables)); // back to the base state
    }
    console.log(`  ${name}: nft -f median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}); plan ${median(plans).toFixed(1)} ms`);
  }
}

// node --expose-gc memory-breakdown-client.js SERVER TOKEN FLAGS: where the
// agent's memory goes, part by part, in a process of its own. heapUsed after
// full collections as each part is added the way src/agent/agent.ts builds
// it for its first commit, and the peak while that full load's script is
// generated line by line, as the agent streams it to nft. Prints the
// figures as JSON. Only Node's own modules load before the first sample, so
// it is a bare node.
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import type { MemoryBreakdown } from './memory-breakdown.js';
import type { Raw } from './synthetic-cluster.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('memory-breakdown-client needs node --expose-gc');
const [server, token, flags] = process.argv.slice(2);

function sample(): { heap: number; rss: number } {
  // A second collection takes what the first one's finalizers let go.
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}
const mib = (bytes: number) => Number((bytes / (1 << 20)).toFixed(1));

const bare = sample();
// The agent's bundle alone: `version`, its one command that only prints.
const bundle = new URL('../../dist/cli/main.js', import.meta.url);
process.argv = [process.argv[0], fileURLToPath(bundle), 'version'];
await import(bundle.href);
const code = sample();

// The stages run on this harness's own build of the same modules.
const { pageThroughLists } = await import('./api-lists.js');
const { loadConfig } = await import('../src/config/load.js');
const { StateTracker } = await import('../src/state/tracker.js');
const { PolicyTable, everyPort } = await import('../src/policy/port-policy.js');
const { IncrementalTables } = await import('../src/backends/nftables/incremental.js');
const cfg = loadConfig(JSON.parse(flags));
const base = sample();

// Objects are held by `held` alone, and each stage runs in a function of its
// own: a value left in a register of this module's long-lived frame would
// keep alive what a stage is done with.
const held: { objects: Raw[] } = { objects: [] };
const { items } = await pageThroughLists(server, token, (o) => held.objects.push(o));
const raw = sample();

/** A tracker fed every object, which are then dropped: the agent keeps none once its tracker has read it. */
function track(): InstanceType<typeof StateTracker> {
  const tracker = new StateTracker({ nodeName: cfg.hostname, nodeIPs: cfg.nodeIPs });
  for (const o of held.objects) tracker.upsert('api', o);
  held.objects = [];
  return tracker;
}
const tracker = track();
const changes = tracker.takeChanges();
const state = tracker.state();
const withState = sample();

const policies = new PolicyTable();
policies.update(state, changes.ports);
const withPolicy = sample();

/** The tables of every decision, as the agent's first commit (a full load) updates them. */
function render(): InstanceType<typeof IncrementalTables> {
  const tables = new IncrementalTables();
  tables.update(state, cfg, everyPort(policies.all()), changes.base, false);
  return tables;
}
const tables = render();
const withTables = sample();

/** The full load's script, generated line by line and dropped as the agent streams it; the heap's peak meanwhile. */
function stream(): { bytes: number; lines: number; peak: number } {
  const out = { bytes: 0, lines: 0, peak: withTables.heap };
  for (const line of tables.script(() => policies.all(), 'replace')) {
    out.bytes += line.length + 1;
    out.lines++;
    out.peak = Math.max(out.peak, getHeapStatistics().used_heap_size);
  }
  return out;
}
const script = stream();

const result: MemoryBreakdown = {
  objects: items, scriptBytes: script.bytes, scriptLines: script.lines,
  bareNodeHeapMiB: mib(bare.heap), bareNodeRssMiB: mib(bare.rss),
  moduleCodeMiB: mib(code.heap - bare.heap), moduleCodeRssMiB: mib(code.rss - bare.rss),
  rawObjectsMiB: mib(raw.heap - base.heap),
  stateMiB: mib(withState.heap - base.heap),
  policyMiB: mib(withPolicy.heap - withState.heap),
  tablesMiB: mib(withTables.heap - withPolicy.heap),
  scriptPeakMiB: mib(script.peak - withTables.heap),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
// The list requests' keep-alive sockets would hold the process open.
process.exit(0);

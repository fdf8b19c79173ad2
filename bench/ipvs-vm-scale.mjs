// IPVS mode beside nftables mode at 10k services x 10 endpoints, on a kernel
// with IPVS (run by bench/ipvs-vm-scale.sh inside ../shared/tools/vmrun): cold
// programming through IpvsPlane (netlink), one endpoint change, then a full
// resync that reads the kernel back; nftables mode's full load and one-element
// changes through libnftables. Plain JS over the built dist/ and dist-bench/:
// the addons are found from dist/. Argument: ipvs or nftables.
import { syntheticCluster, NODE_NAME, CLUSTER_CIDRS } from '../dist-bench/bench/synthetic-cluster.js';
import { loadConfig } from '../dist/config/load.js';
import { decideAll, PolicyTable } from '../dist/policy/port-policy.js';
import { StateTracker } from '../dist/state/tracker.js';
import { IpvsPlane } from '../dist/agent/ipvs-plane.js';
import { desiredTables } from '../dist/backends/nftables/desired.js';
import { renderTables } from '../dist/backends/nftables/render.js';
import { applyScript } from '../dist/kernel/nft.js';
const mode = process.argv[2];
const objs = syntheticCluster(10000, 10);
objs.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_NAME }, spec: {}, status: { addresses: [{ type: 'InternalIP', address: '192.168.50.1' }, { type: 'InternalIP', address: 'fd00:50::1' }] } });
const cfg = loadConfig({ hostnameOverride: NODE_NAME, clusterCidr: CLUSTER_CIDRS, proxyMode: mode, nodeportAddresses: '192.168.50.0/24,fd00:50::/64' });
const tracker = new StateTracker({ nodeName: NODE_NAME });
for (const [i, raw] of objs.entries()) tracker.upsert(`s#${i}`, raw);
const policies = new PolicyTable();
let changes = tracker.takeChanges();
let decided = policies.update(tracker.state(), changes.ports);
const t = () => performance.now();
if (mode === 'ipvs') {
  const plane = await IpvsPlane.open(cfg);
  let t0 = t();
  const all = () => policies.all();
  const cold = await plane.commit('replace', { state: tracker.state(), decided: [], base: true, all });
  console.log(`ipvs cold: ${((t() - t0) / 1000).toFixed(2)} s, ${cold.operations} operations (netlink and helper-table lines), helper ${cold.bytes} bytes`);
  // one endpoint added to svc-20's IPv4 slice
  const slice = objs.find((o) => o.kind === 'EndpointSlice' && o.metadata.name === 'svc-20-ipv4');
  const next = structuredClone(slice); next.endpoints.push({ addresses: ['10.250.0.1'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-x' });
  for (let k = 0; k < 5; k++) {
    tracker.upsert('x', k % 2 === 0 ? next : slice);
    changes = tracker.takeChanges(); decided = policies.update(tracker.state(), changes.ports);
    t0 = t();
    const r = await plane.commit('plan', { state: tracker.state(), decided, base: false, all });
    console.log(`ipvs one endpoint ${k % 2 === 0 ? 'added' : 'removed'}: ${(t() - t0).toFixed(1)} ms, ${r.operations} operations`);
  }
  t0 = t();
  // The agent's periodic resync in IPVS mode.
  const again = await plane.commit('reassert', { state: tracker.state(), decided: [], base: false, all });
  console.log(`ipvs full resync (read kernel, nothing to change): ${((t() - t0) / 1000).toFixed(2)} s, ${again.operations} operations`);
  await plane.close();
} else {
  const t0 = t();
  const script = renderTables(desiredTables(tracker.state(), cfg, decideAll(tracker.state())));
  const t1 = t();
  await applyScript(script);
  console.log(`nftables cold: render ${((t1 - t0) / 1000).toFixed(2)} s, nft load ${((t() - t1) / 1000).toFixed(2)} s, ${script.length} bytes`);
  for (let k = 0; k < 5; k++) {
    const t2 = t();
    await applyScript(k % 2 === 0 ? 'add element ip svcrouter cluster-ips { 10.96.250.1 }\n' : 'delete element ip svcrouter cluster-ips { 10.96.250.1 }\n');
    console.log(`nftables one element ${k % 2 === 0 ? 'added' : 'deleted'}: ${(t() - t2).toFixed(1)} ms`);
  }
}

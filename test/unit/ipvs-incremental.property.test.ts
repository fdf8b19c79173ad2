// Full = incremental in IPVS mode: the agent's path (tracker, policy table,
// incremental IPVS state, reconciliation of the touched virtual servers against
// a mirror of the kernel) leaves kernel and helper tables exactly as a full
// plan of the same cluster, change by change, the node's addresses changing too.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildState, type SourcedObject } from '../../src/state/build.js';
import { DEFAULT_CONFIG, type Config } from '../../src/config/config.js';
import { parseCIDR } from '../../src/state/addr.js';
import { PolicyTable } from '../../src/policy/port-policy.js';
import { StateTracker } from '../../src/state/tracker.js';
import { IncrementalIpvs } from '../../src/backends/ipvs/incremental.js';
import { desiredIpvs } from '../../src/backends/ipvs/desired.js';
import { reconcileIpvs, DRAIN_TIMEOUT_MS, type DrainQueue, type IpvsChange, type ObservedVirtualServer } from '../../src/backends/ipvs/reconcile.js';
import { formatIpvsadm } from '../../src/backends/ipvs/ipvsadm.js';
import { serviceArg, type VirtualServer } from '../../src/backends/ipvs/model.js';
import { renderTables } from '../../src/backends/nftables/render.js';
import type { HostAddresses } from '../../src/backends/ipvs/family.js';
import { FakeNft } from '../support/fake-nft.js';
import { clusterArb, feedDraw } from '../support/arbitrary-cluster.js';

const cfg: Config = { ...DEFAULT_CONFIG, mode: 'ipvs', nodePortAddresses: [], hostname: 'node-a', clusterCIDRs: [parseCIDR('10.244.0.0/16')!, parseCIDR('fd00:244::/32')!] };

const hostArb = fc.constantFrom<HostAddresses>(
  { ipv4: ['192.168.50.1'], ipv6: ['fd00:50::1'] },
  { ipv4: ['192.168.50.1', '10.0.0.9'], ipv6: [] },
  { ipv4: ['192.168.50.2'], ipv6: ['fd00:50::2', 'fd00:50::1'] },
);

/** A kernel's IPVS table as the netlink client would leave it (no connections). */
function applyChanges(kernel: Map<string, ObservedVirtualServer>, changes: readonly IpvsChange[]): void {
  const seen = (rs: { address: string; port: number; weight: number }) => ({ address: rs.address, port: rs.port, weight: rs.weight, activeConns: 0, inactiveConns: 0 });
  for (const c of changes) {
    const key = serviceArg(c.vs);
    const vs = kernel.get(key);
    switch (c.op) {
      case 'add-virtual-server': expect(vs).toBeUndefined(); kernel.set(key, { ...settings(c.vs), reals: [] }); break;
      case 'update-virtual-server': kernel.set(key, { ...settings(c.vs), reals: vs!.reals }); break;
      case 'delete-virtual-server': expect(vs).toBeDefined(); kernel.delete(key); break;
      case 'add-real-server': expect(vs!.reals.some((r) => r.address === c.rs.address && r.port === c.rs.port)).toBe(false); kernel.set(key, { ...vs!, reals: [...vs!.reals, seen(c.rs)] }); break;
      case 'update-real-server': kernel.set(key, { ...vs!, reals: vs!.reals.map((r) => (r.address === c.rs.address && r.port === c.rs.port ? seen(c.rs) : r)) }); break;
      case 'delete-real-server': kernel.set(key, { ...vs!, reals: vs!.reals.filter((r) => !(r.address === c.rs.address && r.port === c.rs.port)) }); break;
    }
  }
}

function settings(vs: VirtualServer | ObservedVirtualServer) {
  const { reals: _r, ...rest } = vs as VirtualServer;
  const { servicePort: _s, ...key } = rest;
  return key;
}

/** The kernel's servers in the dump's syntax, draining (weight 0) real servers left out. */
function kernelText(kernel: Map<string, ObservedVirtualServer>): string {
  return formatIpvsadm([...kernel.values()].map((v) => ({ ...v, servicePort: '', reals: v.reals.filter((r) => r.weight > 0) }) as VirtualServer));
}

describe('IPVS planner', () => {
  it('the agent\'s path equals a full plan after every change', () => {
    fc.assert(fc.property(fc.array(fc.tuple(clusterArb, hostArb), { minLength: 2, maxLength: 6 }), (steps) => {
      const tracker = new StateTracker({ nodeName: cfg.hostname });
      const policies = new PolicyTable();
      const inc = new IncrementalIpvs(cfg);
      const nft = new FakeNft();
      const kernel = new Map<string, ObservedVirtualServer>();
      const draining: DrainQueue = new Map();
      let previous: SourcedObject[] = [];
      let now = 0;
      steps.forEach(([objects, host], i) => {
        feedDraw(tracker, previous, objects);
        previous = objects;
        const changes = tracker.takeChanges();
        const state = tracker.state();
        const update = inc.update(state, host, policies.update(state, changes.ports));
        nft.apply(i === 0 ? [...inc.helperScript('replace')].join('\n') + '\n' : update.helperPlan);
        applyChanges(kernel, reconcileIpvs({ desired: (k) => inc.virtualServer(k), observed: kernel, keys: update.servers, owned: () => true, draining, now }).changes);

        const { state: full } = buildState(objects, { nodeName: cfg.hostname });
        const want = desiredIpvs(full, cfg, host);
        expect(kernelText(kernel)).toBe(formatIpvsadm(want.virtualServers));
        expect(inc.plan().addresses).toEqual(want.addresses);
        const fresh = new FakeNft();
        fresh.apply(renderTables(want.tables));
        expect(nft.dump()).toBe(fresh.dump());
        // Later: draining servers are gone once their time is over.
        now += DRAIN_TIMEOUT_MS;
        applyChanges(kernel, reconcileIpvs({ desired: (k) => inc.virtualServer(k), observed: kernel, keys: kernel.keys(), owned: () => true, draining, now }).changes);
        expect([...kernel.values()].flatMap((v) => v.reals).every((r) => r.weight > 0)).toBe(true);
      });
    }), { numRuns: 200 });
  });
});

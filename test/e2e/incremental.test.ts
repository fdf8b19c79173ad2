// Full = incremental on a real kernel: render(A) then plan(A, B) leaves the
// kernel exactly as render(B), read back with `nft -j list table`; and traffic
// follows a sequence of realistic changes applied only as plans.
import { afterAll, beforeAll, expect, it } from 'vitest';
import fc from 'fast-check';
import { requireKernel, netnsExec } from '../support/netns.js';
import { readTables, withBareNamespaces } from '../support/kernel-table.js';
import { clusterArb } from '../support/arbitrary-cluster.js';
import { connect, createBed, expectOutcome, expectReached, expectUntouched, FAMS, ip, PODS, POD_PORT, sliceFamily, triesFor, ADDR, type Bed, type PodName } from '../support/bed.js';
import { service, serviceCIDRs, slice, type EndpointSpec, type Raw } from '../support/manifests.js';
import { clusterFrom, scriptFor } from '../../src/cli/pipeline.js';
import { renderTables } from '../../src/backends/nftables/render.js';
import { planTables } from '../../src/backends/nftables/plan.js';
import { loadConfig } from '../../src/config/load.js';
import type { SourcedObject } from '../../src/state/build.js';
import type { NftTable } from '../../src/backends/nftables/model.js';

const e2e = requireKernel();
const cfg = loadConfig({ hostnameOverride: 'node-a', clusterCidr: '10.244.0.0/16,fd00:244::/32' });
const tablesOf = (objs: SourcedObject[]) => clusterFrom(objs, cfg).tables;

async function sameAfterBothPaths(ns: [string, string], a: NftTable[], b: NftTable[]): Promise<void> {
  await netnsExec(ns[0], ['nft', '-f', '-'], renderTables(a));
  await netnsExec(ns[0], ['nft', '-f', '-'], planTables(a, b));
  await netnsExec(ns[1], ['nft', '-f', '-'], renderTables(b));
  expect(await readTables(ns[0])).toBe(await readTables(ns[1]));
}

e2e('a periodic reassert', () => {
  it('leaves the kernel exactly as a full render, and loads again and again', async () => {
    await withBareNamespaces(2, async ([x, y]) => {
      await fc.assert(fc.asyncProperty(clusterArb, clusterArb, async (a, b) => {
        await netnsExec(x!, ['nft', '-f', '-'], renderTables(tablesOf(a)));
        await netnsExec(x!, ['nft', '-f', '-'], renderTables(tablesOf(a), 'reassert'));
        await netnsExec(x!, ['nft', '-f', '-'], planTables(tablesOf(a), tablesOf(b)));
        await netnsExec(x!, ['nft', '-f', '-'], renderTables(tablesOf(b), 'reassert'));
        await netnsExec(y!, ['nft', '-f', '-'], renderTables(tablesOf(b)));
        expect(await readTables(x!)).toBe(await readTables(y!));
      }), { numRuns: 10 });
    });
  });

  it('of rules only (large clusters) repairs tampered chains and leaves elements alone', async () => {
    await withBareNamespaces(2, async ([x, y]) => {
      await fc.assert(fc.asyncProperty(clusterArb, async (a) => {
        await netnsExec(x!, ['nft', '-f', '-'], renderTables(tablesOf(a)));
        await netnsExec(x!, ['nft', '-f', '-'], 'flush chain ip svcrouter services\nflush chain ip6 svcrouter masquerading\n');
        const rules = renderTables(tablesOf(a), 'reassert-rules');
        expect(rules).not.toMatch(/element/); // its cost does not grow with the cluster
        await netnsExec(x!, ['nft', '-f', '-'], rules);
        await netnsExec(y!, ['nft', '-f', '-'], renderTables(tablesOf(a)));
        expect(await readTables(x!)).toBe(await readTables(y!));
      }), { numRuns: 5 });
    });
  });
});

e2e('full = incremental, read back from the kernel', () => {
  it('holds for random pairs of clusters', async () => {
    await withBareNamespaces(2, async ([x, y]) => {
      await fc.assert(fc.asyncProperty(clusterArb, clusterArb, async (a, b) => {
        await sameAfterBothPaths([x!, y!], tablesOf(a), tablesOf(b));
      }), { numRuns: 25 });
    });
  });
});

const VIP = { v4: '10.96.0.60', v6: 'fd00:96::60' };
type Ep = Omit<EndpointSpec, 'ip' | 'node'> & { pod: PodName };

function web(eps: Ep[], spec: Raw = {}): Raw[] {
  return [
    service('web', { ipFamilyPolicy: 'RequireDualStack', clusterIPs: [VIP.v4, VIP.v6], ports: [{ name: 'http', protocol: 'TCP', port: 80 }], ...spec }),
    ...FAMS.map((f) => slice('web', sliceFamily(f), [{ name: 'http', protocol: 'TCP', port: POD_PORT }], eps.map(({ pod, ...rest }) => ({ ...rest, ip: ip(pod, f), node: PODS[pod].node })))),
  ];
}

e2e('traffic follows incremental plans', () => {
  let bed: Bed;
  let current: NftTable[];
  beforeAll(async () => {
    bed = await createBed();
    const start = bed.compute([serviceCIDRs(), ...web([{ pod: 'a1' }, { pod: 'b1' }])]);
    await bed.apply(scriptFor(start), start);
    current = start.tables;
  });
  afterAll(async () => { await bed?.destroy(); });

  /** Move the kernel to these manifests with a plan only, and check it matches a full render. */
  async function step(objects: Raw[]): Promise<void> {
    const loaded = bed.compute([serviceCIDRs(), ...objects]);
    const next = loaded.tables;
    const plan = planTables(current, next);
    expect(plan).not.toBe('');
    await bed.apply(plan, loaded);
    current = next;
    await withBareNamespaces(1, async ([fresh]) => {
      await netnsExec(fresh!, ['nft', '-f', '-'], renderTables(next));
      expect(await readTables(bed.topo.nodeNs)).toBe(await readTables(fresh!));
    });
  }

  for (const f of FAMS) {
    it(`${f}: scale up, scale down, terminating, type change, deletion`, async () => {
      await step(web([{ pod: 'a1' }, { pod: 'a2' }, { pod: 'b1' }, { pod: 'b2' }]));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(4)), ['a1', 'a2', 'b1', 'b2'].map((p) => ip(p as PodName, f)), [ip('cp', f)]);

      await step(web([{ pod: 'a2' }]));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, 8), [ip('a2', f)], [ip('cp', f)]);

      await step(web([{ pod: 'a2', ready: false, serving: true, terminating: true }, { pod: 'b1' }]));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, 8), [ip('b1', f)], [ip('cp', f)]);

      await step(web([{ pod: 'a2', ready: false, serving: true, terminating: true }]));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, 8), [ip('a2', f)], [ip('cp', f)]);

      const np = { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30090 }] };
      await step(web([{ pod: 'a1' }, { pod: 'b1' }], np));
      const nodeIP = f === 'v4' ? ADDR.nodeIPv4 : ADDR.nodeIPv6;
      const clientIP = f === 'v4' ? ADDR.clientIPv4 : ADDR.clientIPv6;
      expectReached(await connect(bed, 'client', 'tcp', nodeIP, 30090, 8), [ip('a1', f)], [clientIP]);

      await step(web([{ pod: 'a1' }, { pod: 'b1' }]));
      expectUntouched(await connect(bed, 'client', 'tcp', nodeIP, 30090, 2), 'refused'); // no NodePort now: the node's own stack
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [ip('cp', f)]);

      await step([]);
      expectOutcome(await connect(bed, 'cp', 'tcp', VIP[f], 80, 2), 'timeout'); // unallocated now: dropped

      await step(web([{ pod: 'a1' }, { pod: 'b1' }])); // back for the next family
    });

    it(`${f}: a client's affinity moves off an endpoint that is removed`, async () => {
      const aff = { sessionAffinity: 'ClientIP' };
      await step(web([{ pod: 'a1' }, { pod: 'a2' }, { pod: 'b1' }], aff));
      const first = [...(await connect(bed, 'cp', 'tcp', VIP[f], 80, 1)).reached][0]!;
      const [stay] = await connect(bed, 'cp', 'tcp', VIP[f], 80, 10).then((o) => [...o.reached]);
      expect(stay).toBe(first);
      const survivors = (['a1', 'a2', 'b1'] as PodName[]).filter((p) => ip(p, f) !== first);
      await step(web(survivors.map((pod) => ({ pod })), aff));
      const after = await connect(bed, 'cp', 'tcp', VIP[f], 80, 10);
      expect([...after.outcomes]).toEqual(['ok']);
      expect(after.reached.has(first)).toBe(false);
      expect(after.reached.size).toBe(1); // and it sticks to its new endpoint
      await step(web([{ pod: 'a1' }, { pod: 'b1' }]));
    });
  }
});

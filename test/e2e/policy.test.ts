// Endpoint selection through a real kernel: internalTrafficPolicy Local,
// terminating fallback, topology hints and session affinity.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requireKernel } from '../support/netns.js';
import { connect, createBed, PROXY_MODE, expectOutcome, expectReached, FAMS, ip, PODS, POD_PORT, sliceFamily, triesFor, type Bed, type PodName } from '../support/bed.js';
import { service, slice, type EndpointSpec, type Raw } from '../support/manifests.js';

const e2e = requireKernel();
const VIP = { v4: '10.96.0.50', v6: 'fd00:96::50' };

type Ep = Omit<EndpointSpec, 'ip' | 'node'> & { pod: PodName };

function svc(eps: Ep[], spec: Raw = {}): Raw[] {
  const ports = [{ name: 'tcp', protocol: 'TCP', port: POD_PORT }, { name: 'udp', protocol: 'UDP', port: POD_PORT }];
  return [
    service('api', { ipFamilyPolicy: 'RequireDualStack', clusterIPs: [VIP.v4, VIP.v6], ports: [{ name: 'tcp', protocol: 'TCP', port: 80 }, { name: 'udp', protocol: 'UDP', port: 80 }], ...spec }),
    ...FAMS.map((f) => slice('api', sliceFamily(f), ports, eps.map(({ pod, ...rest }) => ({ ...rest, ip: ip(pod, f), node: PODS[pod].node })))),
  ];
}

e2e('endpoint selection', () => {
  let bed: Bed;
  beforeAll(async () => { bed = await createBed(); });
  afterAll(async () => { await bed?.destroy(); });

  for (const f of FAMS) {
    for (const proto of ['tcp', 'udp'] as const) {
      it(`${f} ${proto}: internalTrafficPolicy Local uses only this node's endpoints`, async () => {
        await bed.load(svc([{ pod: 'a1' }, { pod: 'a2' }, { pod: 'b1' }], { internalTrafficPolicy: 'Local' }));
        expectReached(await connect(bed, 'cp', proto, VIP[f], 80, triesFor(2)), [ip('a1', f), ip('a2', f)], [ip('cp', f)]);
      });
    }

    it(`${f}: internalTrafficPolicy Local with endpoints only elsewhere drops`, async () => {
      await bed.load(svc([{ pod: 'b1' }], { internalTrafficPolicy: 'Local' }));
      expectOutcome(await connect(bed, 'cp', 'tcp', VIP[f], 80, 2), 'timeout');
      expectOutcome(await connect(bed, 'cp', 'udp', VIP[f], 80, 2), 'timeout');
    });

    it(`${f}: terminating endpoints are not used while a ready one exists`, async () => {
      await bed.load(svc([{ pod: 'a1' }, { pod: 'b1', ready: false, serving: true, terminating: true }]));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f)], [ip('cp', f)]);
    });

    it(`${f}: with no ready endpoint, serving-terminating ones take the traffic`, async () => {
      await bed.load(svc([
        { pod: 'a1', ready: false, serving: true, terminating: true },
        { pod: 'b1', ready: false, serving: true, terminating: true },
        { pod: 'b2', ready: false, serving: false, terminating: true },
        { pod: 'a2', ready: false, serving: false, terminating: false },
      ]));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [ip('cp', f)]);
    });

    it(`${f}: endpoints neither ready nor serving count as none: rejected`, async () => {
      await bed.load(svc([{ pod: 'a1', ready: false, serving: false, terminating: true }, { pod: 'b1', ready: false }]));
      expectOutcome(await connect(bed, 'cp', 'tcp', VIP[f], 80, 2, { timeoutMs: 2500 }), 'refused');
    });

    it(`${f}: zone hints (PreferClose / PreferSameZone) keep traffic in this node's zone`, async () => {
      await bed.load(svc([{ pod: 'a1', zones: ['z1'] }, { pod: 'b1', zones: ['z2'] }, { pod: 'b2', zones: ['z1'] }], { trafficDistribution: 'PreferSameZone' }));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b2', f)], [ip('cp', f)]);
    });

    it(`${f}: zone hints without one for this zone are ignored`, async () => {
      await bed.load(svc([{ pod: 'a1', zones: ['z3'] }, { pod: 'b1', zones: ['z2'] }], { trafficDistribution: 'PreferClose' }));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [ip('cp', f)]);
    });

    it(`${f}: node hints (PreferSameNode) keep traffic on this node`, async () => {
      await bed.load(svc([
        { pod: 'a1', zones: ['z1'], nodes: ['node-a'] }, { pod: 'a2', zones: ['z1'], nodes: ['node-a'] }, { pod: 'b1', zones: ['z1'], nodes: ['node-b'] },
      ], { trafficDistribution: 'PreferSameNode' }));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('a2', f)], [ip('cp', f)]);
    });

    for (const proto of ['tcp', 'udp'] as const) {
      it(`${f} ${proto}: ClientIP affinity sends a client to one endpoint every time`, async () => {
        await bed.load(svc([{ pod: 'a1' }, { pod: 'a2' }, { pod: 'b1' }, { pod: 'b2' }], { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }));
        const first = await connect(bed, 'cp', proto, VIP[f], 80, 1);
        const again = await connect(bed, 'cp', proto, VIP[f], 80, 30);
        expect(again.reached.size).toBe(1);
        expect([...again.reached]).toEqual([...first.reached]);
        // Another client gets its own (random) choice, and keeps it too.
        const client = await connect(bed, 'client', proto, VIP[f], 80, 20);
        expect(client.reached.size).toBe(1);
      });
    }

    it(`${f}: the affinity entry carries the service's timeout`, async () => {
      await bed.load(svc([{ pod: 'a1' }, { pod: 'b1' }], { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 1800 } } }));
      await connect(bed, 'cp', 'tcp', VIP[f], 80, 1);
      await connect(bed, 'client', 'tcp', VIP[f], 80, 1);
      await connect(bed, 'node', 'tcp', VIP[f], 80, 1);
      if (PROXY_MODE === 'ipvs') {
        // IPVS keeps affinity as persistence templates (source port 0), one per client, expiring with the timeout.
        const listed = await bed.topo.exec(bed.topo.nodeNs, 'ipvsadm -Lnc');
        const templates = listed.split('\n').filter((l) => /^\S+\s+\S+\s+\S+\s+\S+:0\s/.test(l));
        expect(templates, listed).toHaveLength(3);
        for (const t of templates) expect(t).toMatch(/^TCP\s+(29:[0-5]\d|30:00)\s/);
        expect(templates.join('\n')).toContain(ip('cp', f));
        return;
      }
      const fam = f === 'v4' ? 'ip' : 'ip6';
      const elems: any[] = [];
      for (const slot of [0, 1]) {
        const set = await bed.topo.exec(bed.topo.nodeNs, `nft -j list set ${fam} svcrouter vip-affinity-slot-${slot}`);
        elems.push(...(JSON.parse(set).nftables.find((o: any) => o.set).set.elem ?? []));
      }
      expect(elems).toHaveLength(3);
      expect(elems.map((e) => e.elem.timeout)).toEqual([1800, 1800, 1800]);
      expect(JSON.stringify(elems)).toContain(ip('cp', f));
      // Listing everything still works with packet-filled affinity sets (an nft 1.0.6 crash we avoid).
      await bed.topo.exec(bed.topo.nodeNs, 'nft list ruleset > /dev/null && nft -j list ruleset > /dev/null');
    });

    it(`${f}: an affinity to a removed endpoint is not kept`, async () => {
      const spec = { sessionAffinity: 'ClientIP' };
      await bed.load(svc([{ pod: 'a1' }, { pod: 'b1' }], spec));
      const first = [...(await connect(bed, 'cp', 'tcp', VIP[f], 80, 1)).reached][0]!;
      const survivor = first === ip('a1', f) ? 'b1' : 'a1';
      await bed.load(svc([{ pod: survivor }], spec));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, 6), [ip(survivor, f)], [ip('cp', f)]);
    });
  }
});

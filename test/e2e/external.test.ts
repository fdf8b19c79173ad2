// Traffic from outside the node: NodePorts, LoadBalancer IPs, externalIPs,
// externalTrafficPolicy Local and loadBalancerSourceRanges, both families.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requireKernel } from '../support/netns.js';
import { ADDR, connect, createBed, expectOutcome, PROXY_MODE, expectReached, expectUntouched, FAMS, ip, POD_PORT, sliceFamily, triesFor, type Bed, type PodName } from '../support/bed.js';
import { service, slice, type Raw } from '../support/manifests.js';

const e2e = requireKernel();
const VIP = { v4: '10.96.0.40', v6: 'fd00:96::40' };
const LB = { v4: '198.51.100.10', v6: '2001:db8:100::10' };
const EXT = { v4: '203.0.113.50', v6: '2001:db8:113::50' };
const NODE = { v4: ADDR.nodeIPv4, v6: ADDR.nodeIPv6 };
const CLIENT = { v4: ADDR.clientIPv4, v6: ADDR.clientIPv6 };
const OTHER = { v4: ADDR.clientOtherIPv4, v6: ADDR.clientOtherIPv6 };
const NODE_PORT = 30080;

interface Opts { etpLocal?: boolean; ranges?: string[]; ipMode?: 'VIP' | 'Proxy'; proto?: 'TCP' | 'UDP' }

/** A dual-stack LoadBalancer "shop" with an externalIP, NodePort 30080 and the given endpoints. */
function shop(pods: PodName[], o: Opts = {}): Raw[] {
  const proto = o.proto ?? 'TCP';
  return [
    service('shop', {
      type: 'LoadBalancer', ipFamilyPolicy: 'RequireDualStack', clusterIPs: [VIP.v4, VIP.v6],
      ports: [{ name: 'http', protocol: proto, port: 80, nodePort: NODE_PORT }],
      externalIPs: [EXT.v4, EXT.v6],
      externalTrafficPolicy: o.etpLocal ? 'Local' : 'Cluster',
      ...(o.ranges ? { loadBalancerSourceRanges: o.ranges } : {}),
    }, { loadBalancer: { ingress: [{ ip: LB.v4, ipMode: o.ipMode ?? 'VIP' }, { ip: LB.v6, ipMode: o.ipMode ?? 'VIP' }] } }),
    ...FAMS.map((f) => slice('shop', sliceFamily(f), [{ name: 'http', protocol: proto, port: POD_PORT }],
      pods.map((p) => ({ ip: ip(p, f), node: p.startsWith('b') ? 'node-b' : 'node-a' })))),
  ];
}

e2e('external traffic', () => {
  let bed: Bed;
  beforeAll(async () => {
    bed = await createBed();
    // The client reaches LB and external IPs through the node, as an upstream router would send them.
    await bed.topo.exec(bed.topo.clientNs, `ip route add ${LB.v4}/32 via ${ADDR.nodeIPv4} && ip route add ${EXT.v4}/32 via ${ADDR.nodeIPv4}`
      + ` && ip -6 route add ${LB.v6}/128 via ${ADDR.nodeIPv6} && ip -6 route add ${EXT.v6}/128 via ${ADDR.nodeIPv6}`);
  });
  afterAll(async () => { await bed?.destroy(); });

  for (const f of FAMS) {
    const all = [ip('a1', f), ip('b1', f)];
    for (const proto of ['TCP', 'UDP'] as const) {
      const p = proto.toLowerCase() as 'tcp' | 'udp';
      it(`${f} ${p}: ETP Cluster: NodePort, LB IP and externalIP reach every endpoint, masqueraded`, async () => {
        await bed.load(shop(['a1', 'b1'], { proto }));
        for (const [addr, port] of [[NODE[f], NODE_PORT], [LB[f], 80], [EXT[f], 80]] as const) {
          expectReached(await connect(bed, 'client', p, addr, port, triesFor(2)), all, [NODE[f]]);
        }
      });
      it(`${f} ${p}: ETP Local: outside clients reach only local endpoints and keep their source`, async () => {
        await bed.load(shop(['a1', 'a2', 'b1'], { etpLocal: true, proto }));
        for (const [addr, port] of [[NODE[f], NODE_PORT], [LB[f], 80], [EXT[f], 80]] as const) {
          expectReached(await connect(bed, 'client', p, addr, port, triesFor(2)), [ip('a1', f), ip('a2', f)], [CLIENT[f]]);
        }
      });
    }

    it(`${f}: a LoadBalancer with ETP Cluster that still carries a healthCheckNodePort is served on every address, as kube-proxy serves it`, async () => {
      const objects = shop(['a1', 'b1']);
      (objects[0]!.spec as Raw).healthCheckNodePort = 32123;
      const loaded = await bed.load(objects);
      expect(loaded.build.notes.join('\n')).toMatch(/Service default\/shop: spec\.healthCheckNodePort ignored/);
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), all, [ip('cp', f)]);
      for (const [addr, port] of [[NODE[f], NODE_PORT], [LB[f], 80], [EXT[f], 80]] as const) {
        expectReached(await connect(bed, 'client', 'tcp', addr, port, triesFor(2)), all, [NODE[f]]);
      }
    });

    it(`${f}: ETP Local: pods are short-circuited to every endpoint, not masqueraded`, async () => {
      await bed.load(shop(['a1', 'b1'], { etpLocal: true }));
      expectReached(await connect(bed, 'cp', 'tcp', LB[f], 80, triesFor(2)), all, [ip('cp', f)]);
      expectReached(await connect(bed, 'cp', 'tcp', NODE[f], NODE_PORT, triesFor(2)), all, [ip('cp', f)]);
    });

    it(`${f}: ETP Local: a pod of another node short-circuited back to itself is masqueraded (hairpin)`, async () => {
      // Pods anywhere count as local traffic (ClusterCIDR), so another node's pod may send to this node's
      // NodePort and be balanced to itself: the one case where a remote endpoint needs the hairpin rule here.
      await bed.load(shop(['b1'], { etpLocal: true }));
      expectReached(await connect(bed, 'b1', 'tcp', NODE[f], NODE_PORT, 2), [ip('b1', f)], [NODE[f]]);
    });

    it(`${f}: ETP Local: the node itself is short-circuited to every endpoint, masqueraded`, async () => {
      await bed.load(shop(['a1', 'b1'], { etpLocal: true }));
      expectReached(await connect(bed, 'node', 'tcp', LB[f], 80, triesFor(2)), all, [NODE[f]]);
      expectReached(await connect(bed, 'node', 'tcp', NODE[f], NODE_PORT, triesFor(2)), all, [NODE[f]]);
    });

    it(`${f}: ETP Local with no local endpoint: outside traffic is dropped, pods still served`, async () => {
      await bed.load(shop(['b1', 'b2'], { etpLocal: true }));
      expectOutcome(await connect(bed, 'client', 'tcp', LB[f], 80, 2), 'timeout');
      expectOutcome(await connect(bed, 'client', 'tcp', NODE[f], NODE_PORT, 2), 'timeout');
      expectReached(await connect(bed, 'cp', 'tcp', LB[f], 80, triesFor(2)), [ip('b1', f), ip('b2', f)], [ip('cp', f)]);
    });

    it(`${f}: a LoadBalancer without endpoints rejects on every address`, async () => {
      await bed.load(shop([]));
      for (const [addr, port] of [[NODE[f], NODE_PORT], [LB[f], 80], [EXT[f], 80], [VIP[f], 80]] as const) {
        expectOutcome(await connect(bed, 'client', 'tcp', addr, port, 1, { timeoutMs: 2500 }), 'refused');
      }
    });

    it(`${f}: loadBalancerSourceRanges: allowed sources pass, others are dropped`, async () => {
      await bed.load(shop(['a1'], { ranges: f === 'v4' ? ['192.168.50.0/24'] : ['fd00:50::/64'] }));
      expectReached(await connect(bed, 'client', 'tcp', LB[f], 80, 3, { src: CLIENT[f] }), [ip('a1', f)], [NODE[f]]);
      expectOutcome(await connect(bed, 'client', 'tcp', LB[f], 80, 2, { src: OTHER[f] }), 'timeout');
      // Only the LB IP is filtered: the NodePort and externalIP stay open to everyone.
      expectReached(await connect(bed, 'client', 'tcp', EXT[f], 80, 2, { src: OTHER[f] }), [ip('a1', f)], [NODE[f]]);
      expectReached(await connect(bed, 'client', 'tcp', NODE[f], NODE_PORT, 2, { src: OTHER[f] }), [ip('a1', f)], [NODE[f]]);
    });

    it(`${f}: loadBalancerSourceRanges covering the node let the node reach its own LB IP`, async () => {
      await bed.load(shop(['a1'], { ranges: f === 'v4' ? ['192.168.50.0/24'] : ['fd00:50::/64'] }));
      expectReached(await connect(bed, 'node', 'tcp', LB[f], 80, 2), [ip('a1', f)], [NODE[f]]);
      await bed.load(shop(['a1'], { ranges: f === 'v4' ? ['192.0.2.0/24'] : ['2001:db8:2::/64'] }));
      expectOutcome(await connect(bed, 'node', 'tcp', LB[f], 80, 2), 'timeout');
    });

    it(`${f}: LB ingress with ipMode Proxy is not short-circuited`, async () => {
      await bed.load(shop(['a1'], { ipMode: 'Proxy' }));
      const r = await connect(bed, 'client', 'tcp', LB[f], 80, 2);
      // Not DNATed: the node routes it on, back towards the client side, where nothing answers.
      expectUntouched(r, r.outcomes.has('refused') ? 'refused' : 'timeout');
      // The other addresses of the service are unaffected.
      expectReached(await connect(bed, 'client', 'tcp', EXT[f], 80, 2), [ip('a1', f)], [NODE[f]]);
    });

    it(`${f}: NodePorts answer only on --nodeport-addresses`, async () => {
      // A second node address, never picked as a source, so masquerade still shows the node IP.
      await bed.topo.exec(bed.topo.nodeNs, f === 'v4' ? 'ip addr add 192.168.60.1/24 dev eth0' : 'ip addr add fd00:60::1/64 dev eth0 nodad preferred_lft 0');
      await bed.topo.exec(bed.topo.clientNs, f === 'v4' ? 'ip route add 192.168.60.0/24 via 192.168.50.1' : 'ip -6 route add fd00:60::/64 via fd00:50::1');
      const second = f === 'v4' ? '192.168.60.1' : 'fd00:60::1';
      await bed.load(shop(['a1']));
      if (PROXY_MODE === 'ipvs') {
        // IPVS mode's default, as kube-proxy's: every address of the node.
        for (const addr of [NODE[f], second]) expectReached(await connect(bed, 'client', 'tcp', addr, NODE_PORT, 2), [ip('a1', f)], [NODE[f]]);
      } else {
        // Default "primary": only the Node object's address.
        expectReached(await connect(bed, 'client', 'tcp', NODE[f], NODE_PORT, 2), [ip('a1', f)], [NODE[f]]);
        expectUntouched(await connect(bed, 'client', 'tcp', second, NODE_PORT, 2), 'refused'); // the node's own stack: nothing listens
      }
      // A CIDR list selects the local addresses inside it.
      await bed.load(shop(['a1']), { nodeportAddresses: f === 'v4' ? '192.168.60.0/24' : 'fd00:60::/64' });
      expectReached(await connect(bed, 'client', 'tcp', second, NODE_PORT, 2), [ip('a1', f)], [NODE[f]]);
      expectUntouched(await connect(bed, 'client', 'tcp', NODE[f], NODE_PORT, 2), 'refused');
      // 0.0.0.0/0 and ::/0 mean every local address.
      await bed.load(shop(['a1']), { nodeportAddresses: '0.0.0.0/0,::/0' });
      for (const addr of [NODE[f], second]) expectReached(await connect(bed, 'client', 'tcp', addr, NODE_PORT, 2), [ip('a1', f)], [NODE[f]]);
    });
  }
});

// ClusterIP traffic through a real kernel: load balancing, masquerade
// decisions, hairpin, reject and drop, for both families and TCP and UDP.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requireKernel } from '../support/netns.js';
import { ADDR, connect, createBed, PROXY_MODE, expectOutcome, expectReached, expectRejected, FAMS, ip, POD_PORT, sliceFamily, triesFor, type Bed, type Fam } from '../support/bed.js';
import { service, serviceCIDRs, slice, type Raw } from '../support/manifests.js';

const e2e = requireKernel();
const VIP = { v4: '10.96.0.10', v6: 'fd00:96::10' };
const nodeIP = (f: Fam) => (f === 'v4' ? ADDR.nodeIPv4 : ADDR.nodeIPv6);
const clientIP = (f: Fam) => (f === 'v4' ? ADDR.clientIPv4 : ADDR.clientIPv6);

/** A dual-stack ClusterIP service "web" with TCP and UDP port 80 -> 8080 on the given pods. */
function web(pods: ('a1' | 'a2' | 'b1' | 'b2' | 'cp')[], extra: Raw = {}, vip = VIP, name = 'web'): Raw[] {
  const ports = [{ name: 'tcp', protocol: 'TCP' as const, port: POD_PORT }, { name: 'udp', protocol: 'UDP' as const, port: POD_PORT }];
  return [
    service(name, { clusterIPs: [vip.v4, vip.v6], ipFamilyPolicy: 'RequireDualStack', ports: [{ name: 'tcp', protocol: 'TCP', port: 80 }, { name: 'udp', protocol: 'UDP', port: 80 }], ...extra }),
    ...FAMS.map((f) => slice(name, sliceFamily(f), ports, pods.map((p) => ({ ip: ip(p, f), node: p.startsWith('b') ? 'node-b' : 'node-a' })))),
  ];
}


e2e('ClusterIP', () => {
  let bed: Bed;
  beforeAll(async () => { bed = await createBed(); });
  afterAll(async () => { await bed?.destroy(); });

  for (const f of FAMS) {
    for (const proto of ['tcp', 'udp'] as const) {
      it(`${f} ${proto}: a pod reaches every endpoint, not masqueraded`, async () => {
        await bed.load(web(['a1', 'a2', 'b1']));
        expectReached(await connect(bed, 'cp', proto, VIP[f], 80, triesFor(3)), [ip('a1', f), ip('a2', f), ip('b1', f)], [ip('cp', f)]);
      });
      it(`${f} ${proto}: traffic from outside the cluster CIDR is masqueraded`, async () => {
        await bed.load(web(['a1', 'b1']));
        expectReached(await connect(bed, 'client', proto, VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [nodeIP(f)]);
      });
    }

    it(`${f}: the node itself reaches the service`, async () => {
      await bed.load(web(['a1', 'b1']));
      expectReached(await connect(bed, 'node', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [nodeIP(f)]);
    });

    it(`${f}: --masquerade-all masquerades pod traffic too`, async () => {
      await bed.load(web(['a1', 'b1']), { masqueradeAll: true });
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [nodeIP(f)]);
    });

    it(`${f}: without a cluster CIDR nothing is masqueraded (no local-traffic detector)`, async () => {
      await bed.load(web(['a1']), { clusterCidr: '' });
      expectReached(await connect(bed, 'client', 'tcp', VIP[f], 80, 4), [ip('a1', f)], [clientIP(f)]);
    });

    it(`${f}: hairpin: a pod reaching itself through the service is masqueraded`, async () => {
      await bed.load(web(['cp']));
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, 4), [ip('cp', f)], [nodeIP(f)]);
      expectReached(await connect(bed, 'cp', 'udp', VIP[f], 80, 4), [ip('cp', f)], [nodeIP(f)]);
    });

    for (const proto of ['tcp', 'udp'] as const) {
      it(`${f} ${proto}: a service with no endpoints rejects`, async () => {
        await bed.load(web([]));
        await expectRejected(bed, 'cp', proto, VIP[f], 80);
        await expectRejected(bed, 'client', proto, VIP[f], 80);
        // From the node, a UDP send rejected in the output hook fails with EPERM instead.
        if (proto === 'tcp') await expectRejected(bed, 'node', proto, VIP[f], 80);
      });
      it(`${f} ${proto}: an unknown port of a ClusterIP rejects`, async () => {
        await bed.load(web(['a1']));
        await expectRejected(bed, 'cp', proto, VIP[f], 81);
        await expectRejected(bed, 'client', proto, VIP[f], 81);
      });
    }

    it(`${f}: an unallocated address inside a ServiceCIDR is dropped`, async () => {
      await bed.load([...web(['a1']), serviceCIDRs()]);
      const unallocated = f === 'v4' ? '10.96.0.77' : 'fd00:96::77';
      expectOutcome(await connect(bed, 'cp', 'tcp', unallocated, 80, 2), 'timeout');
      // The allocated one still works.
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, 2), [ip('a1', f)], [ip('cp', f)]);
    });

    it(`${f}: services labelled for another proxy, and ExternalName services, are not programmed`, async () => {
      const other = web(['a1'], {}, { v4: '10.96.0.20', v6: 'fd00:96::20' }, 'other');
      (other[0]!.metadata as Raw).labels = { 'service.kubernetes.io/service-proxy-name': 'someone-else' };
      const external = service('ext', { type: 'ExternalName', externalName: 'db.example.com', ports: [{ port: 80 }] });
      const loaded = await bed.load([...web(['b1']), ...other, external, serviceCIDRs()]);
      expect(loaded.build.ignored.join('\n')).toMatch(/Service default\/other ignored: labelled service\.kubernetes\.io\/service-proxy-name/);
      expect(loaded.build.ignored.join('\n')).toMatch(/Service default\/ext ignored: type ExternalName/);
      // Inside the ServiceCIDR and not ours: dropped like any unallocated address.
      expectOutcome(await connect(bed, 'cp', 'tcp', f === 'v4' ? '10.96.0.20' : 'fd00:96::20', 80, 2), 'timeout');
    });
  }

  it('detect-local-mode NodeCIDR: this node\'s pod CIDR is local', async () => {
    await bed.load(web(['a1']), { detectLocalMode: 'NodeCIDR' });
    expectReached(await connect(bed, 'cp', 'tcp', VIP.v4, 80, 3), [ip('a1', 'v4')], [ip('cp', 'v4')]);
    expectReached(await connect(bed, 'client', 'tcp', VIP.v4, 80, 3), [ip('a1', 'v4')], [ADDR.nodeIPv4]);
  });

  it('detect-local-mode InterfaceNamePrefix: traffic from pod interfaces is local', async () => {
    const prefix = bed.topo.podIface('cp').slice(0, 1);
    await bed.load(web(['a1']), { detectLocalMode: 'InterfaceNamePrefix', podInterfaceNamePrefix: prefix });
    expectReached(await connect(bed, 'cp', 'tcp', VIP.v6, 80, 3), [ip('a1', 'v6')], [ip('cp', 'v6')]);
    expectReached(await connect(bed, 'client', 'tcp', VIP.v6, 80, 3), [ip('a1', 'v6')], [ADDR.nodeIPv6]);
  });

  it('detect-local-mode BridgeInterface: only traffic from the bridge is local', async () => {
    // Pods here hang off veths, not a bridge: so their traffic is not local and is masqueraded.
    await bed.load(web(['a1']), { detectLocalMode: 'BridgeInterface', podBridgeInterface: 'cbr0' });
    expectReached(await connect(bed, 'cp', 'tcp', VIP.v4, 80, 3), [ip('a1', 'v4')], [ADDR.nodeIPv4]);
  });

  it('SCTP services are programmed (this kernel has no SCTP sockets to send with)', async () => {
    await bed.load([
      service('sctp', { clusterIP: '10.96.0.30', ports: [{ name: 's', protocol: 'SCTP', port: 9899 }] }),
      slice('sctp', 'IPv4', [{ name: 's', protocol: 'SCTP', port: 9899 }], [{ ip: ip('a1', 'v4'), node: 'node-a' }]),
    ]);
    if (PROXY_MODE === 'ipvs') {
      expect(await bed.topo.exec(bed.topo.nodeNs, 'ipvsadm -Sn')).toContain('-a --sctp-service 10.96.0.30:9899 -r 10.244.1.11:9899 -m -w 1');
    } else {
      const listed = await bed.topo.exec(bed.topo.nodeNs, 'nft list map ip svcrouter vip-1-backends');
      expect(listed).toMatch(/10\.96\.0\.30 \. sctp \. 9899 \. 0 : 10\.244\.1\.11 \. 9899/);
    }
  });
});

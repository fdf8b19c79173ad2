// `svcrouter apply --proxy-mode ipvs` and `cleanup` on a kernel with IPVS:
// the real netlink path (not the tools the traffic suites program with),
// reconciling what a previous run left, leaving other software's virtual
// servers alone, and matching `dump --ipvsadm` exactly.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requireKernel, netnsExec } from '../support/netns.js';
import { ADDR, connect, createBed, expectReached, FAMS, ip, POD_PORT, sliceFamily, thisNode, triesFor, type Bed, type PodName } from '../support/bed.js';
import { service, slice, type Raw } from '../support/manifests.js';

const e2e = requireKernel();
const VIP = { v4: '10.96.0.60', v6: 'fd00:96::60' };
const LB = { v4: '198.51.100.60', v6: '2001:db8:100::60' };
const FLAGS = ['--proxy-mode', 'ipvs', '--hostname-override', 'node-a', '--cluster-cidr', '10.244.0.0/16,fd00:244::/32',
  '--nodeport-addresses', '192.168.50.0/24,fd00:50::/64'];
/** The same, for the bed's trace of each connection. */
const BED_FLAGS = { proxyMode: 'ipvs', nodeportAddresses: '192.168.50.0/24,fd00:50::/64' };
/** ipvsadm -Sn in the dump's order (README). */
const CANONICAL = `ipvsadm -Sn | awk '{k=$2" "$3; if ($4=="-6") k=k" -6"; print k"\\t"($1=="-A"?0:1)"\\t"$0}' | LC_ALL=C sort | cut -f3`;

function shop(pods: PodName[]): Raw[] {
  return [
    service('shop', {
      type: 'LoadBalancer', ipFamilyPolicy: 'RequireDualStack', clusterIPs: [VIP.v4, VIP.v6], externalTrafficPolicy: 'Local',
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30060 }],
    }, { loadBalancer: { ingress: [{ ip: LB.v4 }, { ip: LB.v6 }] } }),
    ...FAMS.map((f) => slice('shop', sliceFamily(f), [{ name: 'http', protocol: 'TCP', port: POD_PORT }],
      pods.map((p) => ({ ip: ip(p, f), node: p.startsWith('b') ? 'node-b' : 'node-a' })))),
  ];
}

e2e('apply and cleanup in IPVS mode', () => {
  let bed: Bed;
  const dir = mkdtempSync(join(tmpdir(), 'svcrouter-ipvs-'));
  const svcrouter = (...args: string[]) => netnsExec(bed.topo.nodeNs, [process.execPath, 'dist/cli/main.js', ...args]);
  const manifests = (objects: Raw[]) => {
    const file = join(dir, 'cluster.json');
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [thisNode(), ...objects] }));
    return file;
  };
  beforeAll(async () => {
    bed = await createBed();
    await bed.topo.exec(bed.topo.clientNs, `ip route add ${LB.v4}/32 via ${ADDR.nodeIPv4} && ip -6 route add ${LB.v6}/128 via ${ADDR.nodeIPv6}`);
  });
  afterAll(async () => { await bed?.destroy(); });

  it('programs the kernel as dump --ipvsadm prints it, and the traffic goes where nftables mode sends it', async () => {
    const file = manifests(shop(['a1', 'b1']));
    await svcrouter('apply', '-f', file, ...FLAGS);
    await bed.applied(bed.compute(shop(['a1', 'b1']), BED_FLAGS));
    expect(await bed.topo.exec(bed.topo.nodeNs, CANONICAL)).toBe(await svcrouter('dump', '--ipvsadm', '-f', file, ...FLAGS));
    for (const f of FAMS) {
      expectReached(await connect(bed, 'client', 'tcp', LB[f], 80, triesFor(1)), [ip('a1', f)], [f === 'v4' ? ADDR.clientIPv4 : ADDR.clientIPv6]);
      expectReached(await connect(bed, 'cp', 'tcp', LB[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [ip('cp', f)]);
      expectReached(await connect(bed, 'cp', 'tcp', VIP[f], 80, triesFor(2)), [ip('a1', f), ip('b1', f)], [ip('cp', f)]);
    }
  });

  it('reconciles what a previous run left: stale servers and addresses go, weights come back, other software\'s servers stay', async () => {
    const ns = bed.topo.nodeNs;
    await bed.topo.exec(ns, [
      'ipvsadm -A -t 192.0.2.80:80 -s rr', // someone else's, on no address of ours
      'ipvsadm -A -t 10.96.0.99:80 -s rr && ip addr add 10.96.0.99/32 dev svcrouter-ipvs0', // ours, from a service gone meanwhile
      `ipvsadm -e -t ${VIP.v4}:80 -r ${ip('a1', 'v4')}:${POD_PORT} -m -w 0`, // a weight a crash left at 0
    ].join(' && '));
    const file = manifests(shop(['a1', 'a2', 'b1']));
    await svcrouter('apply', '-f', file, ...FLAGS);
    await bed.applied(bed.compute(shop(['a1', 'a2', 'b1']), BED_FLAGS));
    const want = await svcrouter('dump', '--ipvsadm', '-f', file, ...FLAGS);
    const have = (await bed.topo.exec(ns, CANONICAL)).split('\n');
    expect(have).toContain('-A -t 192.0.2.80:80 -s rr');
    expect(have.filter((l) => l !== '-A -t 192.0.2.80:80 -s rr').join('\n')).toBe(want);
    expect(await bed.topo.exec(ns, 'ip -o addr show dev svcrouter-ipvs0')).not.toContain('10.96.0.99');
    expectReached(await connect(bed, 'cp', 'tcp', VIP.v4, 80, triesFor(3)), [ip('a1', 'v4'), ip('a2', 'v4'), ip('b1', 'v4')], [ip('cp', 'v4')]);
  });

  it('cleanup removes the IPVS table and the dummy link', async () => {
    await svcrouter('cleanup');
    expect((await bed.topo.exec(bed.topo.nodeNs, 'ipvsadm -Sn')).trim()).toBe('');
    expect(await bed.topo.exec(bed.topo.nodeNs, 'ip -o link show')).not.toContain('svcrouter-ipvs0');
    expect(await bed.topo.exec(bed.topo.nodeNs, 'nft list tables')).not.toContain('svcrouter');
  });
});

// cleanup --kube-proxy on a node kube-proxy's IPVS mode ran on: its iptables
// chains and ipsets go (IPv6 sets too); kubelet's, a CNI plugin's and
// anyone else's stay.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { requireKernel, netnsExec } from '../support/netns.js';
import { withBareNamespaces } from '../support/kernel-table.js';

const e2e = requireKernel();

const SETS = [
  'create KUBE-CLUSTER-IP hash:ip,port family inet', 'create KUBE-LOAD-BALANCER hash:ip,port family inet', 'create KUBE-LOAD-BALANCER-FW hash:ip,port family inet',
  'create KUBE-IPVS-IPS hash:ip family inet', 'create KUBE-LOOP-BACK hash:ip,port,ip family inet', 'create KUBE-NODE-PORT-TCP bitmap:port range 0-65535',
  'create KUBE-HEALTH-CHECK-NODE-PORT bitmap:port range 0-65535', 'create KUBE-6-CLUSTER-IP hash:ip,port family inet6', 'create someone-else hash:ip family inet',
];

e2e('cleanup --kube-proxy', () => {
  it('removes kube-proxy\'s IPVS-mode chains and sets, and nothing else', async () => {
    await withBareNamespaces(1, async ([ns]) => {
      await netnsExec(ns!, ['ipset', 'restore'], SETS.join('\n') + '\n');
      await netnsExec(ns!, ['iptables-nft-restore'], readFileSync('test/fixtures/kube-proxy-ipvs-iptables-save.txt', 'utf8'));
      await netnsExec(ns!, ['node', 'dist/cli/main.js', 'cleanup', '--kube-proxy']);
      const left = await netnsExec(ns!, ['iptables-nft-save']);
      expect(left).not.toMatch(/KUBE-(SERVICES|POSTROUTING|NODE-PORT|LOAD-BALANCER|MARK-MASQ|FORWARD|PROXY-FIREWALL|SOURCE-RANGES-FIREWALL|IPVS-FILTER|IPVS-OUT-FILTER)\b/);
      expect(left).toMatch(/-A INPUT -j KUBE-FIREWALL/);
      expect(left).toMatch(/:KUBE-KUBELET-CANARY/);
      expect(left).toMatch(/-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT/);
      expect((await netnsExec(ns!, ['ipset', 'list', '-n'])).trim()).toBe('someone-else');
      await netnsExec(ns!, ['node', 'dist/cli/main.js', 'cleanup', '--kube-proxy']); // nothing left: not an error
    });
  });
});

// Removing kube-proxy's IPVS-mode iptables state: its chains and the jumps to
// them, nothing of kubelet's or a CNI plugin's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { iptablesCleanupScript, KUBE_PROXY_IPVS_SETS } from '../../src/kernel/kube-proxy-ipvs.js';

describe('iptablesCleanupScript', () => {
  it('deletes the jumps to kube-proxy\'s chains, then flushes and deletes them; kubelet\'s and the CNI\'s chains stay', () => {
    const script = iptablesCleanupScript(readFileSync('test/fixtures/kube-proxy-ipvs-iptables-save.txt', 'utf8'));
    expect(script).toBe([
      '*filter',
      '-D INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
      '-D INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
      '-D INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
      '-D FORWARD -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
      '-D FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-D OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER',
      ...['KUBE-FORWARD', 'KUBE-IPVS-FILTER', 'KUBE-IPVS-OUT-FILTER', 'KUBE-NODE-PORT', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL'].map((c) => `-F ${c}`),
      ...['KUBE-FORWARD', 'KUBE-IPVS-FILTER', 'KUBE-IPVS-OUT-FILTER', 'KUBE-NODE-PORT', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL'].map((c) => `-X ${c}`),
      'COMMIT',
      '*nat',
      '-D PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-D OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-D POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      '-D CNI-HOSTPORT-DNAT -p tcp -m tcp --dport 8081 -j KUBE-MARK-MASQ',
      ...['KUBE-LOAD-BALANCER', 'KUBE-MARK-MASQ', 'KUBE-NODE-PORT', 'KUBE-POSTROUTING', 'KUBE-SERVICES'].map((c) => `-F ${c}`),
      ...['KUBE-LOAD-BALANCER', 'KUBE-MARK-MASQ', 'KUBE-NODE-PORT', 'KUBE-POSTROUTING', 'KUBE-SERVICES'].map((c) => `-X ${c}`),
      'COMMIT',
      '',
    ].join('\n'));
  });

  it('is empty for a node without kube-proxy\'s chains', () => {
    expect(iptablesCleanupScript('*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n-A INPUT -j KUBE-FIREWALL\nCOMMIT\n')).toBe('');
  });

  it('names the IPv6 sets kube-proxy makes, which its own cleanup forgets', () => {
    expect(KUBE_PROXY_IPVS_SETS).toEqual(expect.arrayContaining(['KUBE-CLUSTER-IP', 'KUBE-6-CLUSTER-IP', 'KUBE-IPVS-IPS', 'KUBE-6-LOAD-BALANCER-SOURCE-CIDR']));
    expect(KUBE_PROXY_IPVS_SETS).toHaveLength(34);
  });
});

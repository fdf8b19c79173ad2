// The fixed part of IPVS mode's helper table (one per family, the same
// `svcrouter` table nftables mode uses, so switching modes replaces it): what
// IPVS cannot decide itself, at hook priorities around IPVS's own
// (LOCAL_IN 98/99, LOCAL_OUT -99/-98):
//   prerouting/output -150  classify new service traffic before IPVS sees it:
//                           the masquerade bit, and for ETP Local short-circuit
//                           traffic (pods, the node) the firewall mark of the
//                           virtual server that holds every endpoint
//   prerouting/output -110  loadBalancerSourceRanges
//   input 0, output -110    no usable endpoint (reject/drop), unknown port on a
//                           bound address (reject), unallocated ServiceCIDR
//                           address (drop); the destination is still the VIP
//   forward 0               unallocated ServiceCIDR address (drop)
//   postrouting 100         hairpin and the masquerade bit; the node's own
//                           short-circuit traffic (it has no bit: its mark is
//                           the firewall mark)
import type { Config } from '../../config/config.js';
import type { Family, NodeInfo } from '../../state/types.js';
import { baseChain, detectorRules, familyNames, sharedChains } from '../nftables/layout.js';
import { localTrafficDetector } from '../../policy/node-traffic.js';
import type { Chain } from '../nftables/model.js';

export function declareHelperSets(f: Family): Map<string, string> {
  const fam = familyNames(f);
  const vipKey = `${fam.addr} . inet_proto . inet_service`;
  return new Map([
    ['cluster-ips', `type ${fam.addr} ;`],
    // Every address bound to the dummy link: a port on it that is no service port is refused.
    ['bound-ips', `type ${fam.addr} ;`],
    ['bound-ports', `type ${vipKey} ;`],
    ['nodeport-ips', `type ${fam.addr} ;`],
    ['service-cidrs', `type ${fam.addr} ; flags interval ;`],
    ['external-ips', `type ${vipKey} : verdict ;`],
    ['external-nodeports', 'type inet_proto . inet_service : verdict ;'],
    ['shortcircuit-ips', `type ${vipKey} : mark ;`],
    ['shortcircuit-nodeports', 'type inet_proto . inet_service : mark ;'],
    ['shortcircuit-marks', 'type mark ;'],
    ['no-endpoint-services', `type ${vipKey} : verdict ;`],
    ['no-endpoint-nodeports', 'type inet_proto . inet_service : verdict ;'],
    ['firewall-ips', `type ${vipKey} ;`],
    ['firewall-allow', `type ${vipKey} . ${fam.addr} ; flags interval ;`],
    ['hairpin', `type ${fam.addr} . ${fam.addr} ;`],
  ]);
}

export function helperChains(cfg: Config, node: NodeInfo, f: Family): Map<string, Chain> {
  const fam = familyNames(f);
  const vip = `${fam.ip} daddr . meta l4proto . th dport`;
  const np = `${fam.ip} daddr @nodeport-ips meta l4proto . th dport`;
  const det = detectorRules(localTrafficDetector(cfg, node, f), fam);
  const newConn = 'ct state new';
  const shared = sharedChains(cfg, node, f);
  // Pods keep their source; the node is masqueraded in postrouting (see masquerading).
  const shortCircuit = (key: string, map: string) => [
    ...(det ? [`${det.local} meta mark set ${key} map @${map}`] : []),
    `fib saddr type local meta mark set ${key} map @${map}`,
  ];
  return new Map<string, Chain>([
    ['classify-prerouting', baseChain('filter', 'prerouting', -150, ['jump services'])],
    ['classify-output', baseChain('filter', 'output', -150, ['jump services'])],
    ['filter-prerouting-pre-dnat', baseChain('filter', 'prerouting', -110, [`${newConn} jump firewall-check`])],
    ['filter-output-pre-dnat', baseChain('filter', 'output', -110, [`${newConn} jump firewall-check`, `${newConn} jump service-endpoints-check`])],
    ['filter-input', baseChain('filter', 'input', 0, [`${newConn} jump service-endpoints-check`])],
    ['filter-forward', baseChain('filter', 'forward', 0, [`${newConn} ${fam.ip} daddr @service-cidrs drop`])],
    ['nat-postrouting', baseChain('nat', 'postrouting', 100, ['jump masquerading'])],
    ['services', { rules: [...shared.clusterMasquerade, `${vip} vmap @external-ips`, `${np} vmap @external-nodeports`] }],
    // ETP Cluster: always masquerade, since the endpoint may be on another node.
    ['external-cluster', { rules: ['jump mark-for-masquerade'] }],
    ['external-local', { rules: shortCircuit(vip, 'shortcircuit-ips') }],
    ['nodeport-local', { rules: shortCircuit('meta l4proto . th dport', 'shortcircuit-nodeports') }],
    ['firewall-check', shared.firewallCheck],
    ['service-endpoints-check', { rules: [
      // Short-circuit traffic has endpoints even where outside traffic is dropped.
      'meta mark @shortcircuit-marks return',
      `${vip} vmap @no-endpoint-services`,
      `${np} vmap @no-endpoint-nodeports`,
      `${vip} @bound-ports return`,
      `${fam.ip} daddr @bound-ips reject`,
      `${fam.ip} daddr @service-cidrs drop`,
    ] }],
    ['reject-chain', shared.rejectChain],
    ['mark-for-masquerade', shared.markForMasquerade],
    ['masquerading', { rules: [
      `${fam.ip} saddr . ${fam.ip} daddr @hairpin jump mark-for-masquerade`,
      'meta mark @shortcircuit-marks fib saddr type local masquerade fully-random',
      ...shared.masqueradeMarked,
    ] }],
  ]);
}

/**
 * Firewall marks of the short-circuit virtual servers: the whole packet mark,
 * as IPVS matches it, so never one with the masquerade bit. Below 0x8000,
 * clear of the high bits other network plugins use (Calico 0xffff0000).
 */
export function isUsableFwmark(n: number, cfg: Config): boolean {
  return n > 0 && n < 0x8000 && (n & (2 ** cfg.masqueradeBit)) === 0;
}


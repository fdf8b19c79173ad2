// The fixed part of the table: sets, maps and the chains whose rules depend
// only on configuration and the node, never on the number of services.
import type { Config } from '../../config/config.js';
import type { Family, NodeInfo } from '../../state/types.js';
import { localTrafficDetector, nodePortAddresses, type LocalTrafficDetector, type NodePortAddresses } from '../../policy/node-traffic.js';
import type { Chain, NftFamily } from './model.js';

/** The four ways a packet can be load-balanced; each has its own backends map. */
export const DISPATCH_KINDS = ['vip', 'vipsc', 'np', 'npsc'] as const;
export type DispatchKind = (typeof DISPATCH_KINDS)[number];

export interface FamilyNames {
  readonly nft: NftFamily;
  readonly ip: 'ip' | 'ip6';
  readonly addr: 'ipv4_addr' | 'ipv6_addr';
  readonly loopback: string;
}

export function familyNames(f: Family): FamilyNames {
  return f === 'ipv4'
    ? { nft: 'ip', ip: 'ip', addr: 'ipv4_addr', loopback: '127.0.0.0/8' }
    : { nft: 'ip6', ip: 'ip6', addr: 'ipv6_addr', loopback: '::1' };
}

/** Whether a dispatch kind is keyed by the destination address as well as the port. */
function byAddress(kind: DispatchKind): boolean {
  return kind === 'vip' || kind === 'vipsc';
}

/** The packet fields a dispatch kind is keyed by. */
export function keyExpr(kind: DispatchKind, fam: FamilyNames): string {
  return byAddress(kind) ? `${fam.ip} daddr . meta l4proto . th dport` : 'meta l4proto . th dport';
}

/** The type of those fields, as a set declares its key. */
function keyType(kind: DispatchKind, fam: FamilyNames): string {
  return byAddress(kind) ? `${fam.addr} . inet_proto . inet_service` : 'inet_proto . inet_service';
}

/**
 * The chain a dispatch map sends a load-balanced frontend to, whatever its
 * endpoint count: it finds the frontend's load-balancing chain by the set
 * holding it. So a change of count moves an element between two plain sets,
 * which the kernel commits as it is, where re-pointing a verdict-map element
 * makes it check every jump in the table again (22 ms at 30k Services).
 */
export function dispatchChain(kind: DispatchKind): string {
  return `${kind}-dispatch`;
}

/** The frontends one load-balancing chain (or affinity chain group) serves, keyed as its dispatch map is. */
export function frontendsSetDecl(kind: DispatchKind, fam: FamilyNames): string {
  return `type ${keyType(kind, fam)} ;`;
}

/** The dispatch chain's rule that enters load-balancing chain `chain`. */
export function dispatchRule(kind: DispatchKind, chain: string, fam: FamilyNames): string {
  return `${keyExpr(kind, fam)} @${chain}-frontends goto ${chain}`;
}

const AFFINITY_SET_SIZE = 1048576;

/**
 * The sets whose elements several service ports may contribute: a ClusterIP
 * (every port of a Service has it), a hairpin pair (an endpoint of several
 * ports). Every other element is keyed by one port's own frontend.
 */
export const SHARED_SETS: readonly string[] = ['cluster-ips', 'hairpin'];

export function declareSets(f: Family): Map<string, string> {
  const fam = familyNames(f);
  const vipKey = keyType('vip', fam);
  const npKey = keyType('np', fam);
  const sets = new Map<string, string>([
    ['cluster-ips', `type ${fam.addr} ;`],
    ['nodeport-ips', `type ${fam.addr} ;`],
    ['service-cidrs', `type ${fam.addr} ; flags interval ;`],
    ['service-ips', `type ${vipKey} : verdict ;`],
    ['service-nodeports', `type ${npKey} : verdict ;`],
    ['external-ips', `type ${vipKey} : verdict ;`],
    ['external-nodeports', `type ${npKey} : verdict ;`],
    ['shortcircuit-ips', `type ${vipKey} : verdict ;`],
    ['shortcircuit-nodeports', `type ${npKey} : verdict ;`],
    ['no-endpoint-services', `type ${vipKey} : verdict ;`],
    ['no-endpoint-nodeports', `type ${npKey} : verdict ;`],
    ['firewall-ips', `type ${vipKey} ;`],
    ['firewall-allow', `type ${vipKey} . ${fam.addr} ; flags interval ;`],
    ['hairpin', `type ${fam.addr} . ${fam.addr} ;`],
  ]);
  return sets;
}

/**
 * Clients with affinity to slot `slot` of a frontend: client . frontend, filled from
 * the packet path with the service's timeout. One set per slot index, shared by all
 * services: nft 1.0.6 cannot update IPv6 concatenated *maps*, and crashes listing a
 * packet-filled set whose key holds a numgen slot, so the slot is the set itself.
 */
export function affinitySet(kind: DispatchKind, slot: number, fam: FamilyNames): { name: string; decl: string } {
  return {
    name: `${kind}-affinity-slot-${slot}`,
    decl: `typeof ${fam.ip} saddr . ${keyExpr(kind, fam)} ; flags dynamic,timeout ; size ${AFFINITY_SET_SIZE} ;`,
  };
}

/**
 * The backends map of one load-balancing chain (or affinity chain group):
 * frontend . slot -> endpoint; typeof makes "... . numgen" a legal key. Each map
 * belongs to one chain group and is created and deleted with it: nft 1.0.6
 * cannot re-read the typeof data "daddr . th dport" of a map already in the
 * kernel, and so refuses any later transaction that adds a rule using it
 * (adding elements to it is fine).
 */
export function backendsMapDecl(kind: DispatchKind, n: number, fam: FamilyNames): string {
  return `typeof ${keyExpr(kind, fam)} . numgen random mod ${n} : ${fam.ip} daddr . th dport ;`;
}

/** Rule fragments that tell pod traffic apart (kube-proxy's LocalTrafficDetector). */
export function detectorRules(d: LocalTrafficDetector | null, fam: FamilyNames): { local: string; notLocal: string } | null {
  if (!d) return null;
  if (d.by === 'cidrs') {
    const set = d.cidrs.length === 1 ? d.cidrs[0]!.text : `{ ${d.cidrs.map((c) => c.text).join(', ')} }`;
    return { local: `${fam.ip} saddr ${set}`, notLocal: `${fam.ip} saddr != ${set}` };
  }
  const name = q(d.prefix ? `${d.name}*` : d.name);
  return { local: `iifname ${name}`, notLocal: `iifname != ${name}` };
}

function q(s: string): string {
  return `"${s}"`;
}

/** How NodePort traffic is recognised, or null when this family serves none. */
function nodePortMatch(np: NodePortAddresses | null, fam: FamilyNames): string | null {
  if (!np) return null;
  if (np.by === 'primary') return `${fam.ip} daddr @nodeport-ips`;
  const local = `fib daddr type local ${fam.ip} daddr != ${fam.loopback}`;
  if (np.within === 'any') return local;
  return `${fam.ip} daddr { ${np.within.map((c) => c.text).join(', ')} } ${local}`;
}

/** The configured masquerade bit as nft writes a mark: 0x00004000. */
export function masqueradeMark(cfg: Config): string {
  return markText(2 ** cfg.masqueradeBit);
}

export function markText(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** A base chain at `hook` and `prio`, accepting what its rules let through. */
export function baseChain(type: string, hook: string, prio: number, rules: string[]): Chain {
  return { base: `type ${type} hook ${hook} priority ${prio} ; policy accept ;`, rules };
}

/** Chains and rules both data planes write alike. */
export function sharedChains(cfg: Config, node: NodeInfo, f: Family): { firewallCheck: Chain; rejectChain: Chain; markForMasquerade: Chain; masqueradeMarked: string[]; clusterMasquerade: string[] } {
  const fam = familyNames(f);
  const vip = keyExpr('vip', fam);
  const mark = masqueradeMark(cfg);
  const det = detectorRules(localTrafficDetector(cfg, node, f), fam);
  return {
    // ClusterIP traffic: all with --masquerade-all, else what does not come from a pod (no detector: none).
    clusterMasquerade: cfg.masqueradeAll ? [`${fam.ip} daddr @cluster-ips jump mark-for-masquerade`]
      : det ? [`${fam.ip} daddr @cluster-ips ${det.notLocal} jump mark-for-masquerade`] : [],
    firewallCheck: { rules: [`${vip} @firewall-ips ${vip} . ${fam.ip} saddr != @firewall-allow drop`] },
    rejectChain: { rules: ['reject'] },
    markForMasquerade: { rules: [`meta mark set meta mark | ${mark}`] },
    masqueradeMarked: [`meta mark & ${mark} == 0x00000000 return`, `meta mark set meta mark ^ ${mark}`, 'masquerade fully-random'],
  };
}

export function staticChains(cfg: Config, node: NodeInfo, f: Family): Map<string, Chain> {
  const fam = familyNames(f);
  const shared = sharedChains(cfg, node, f);
  const vip = keyExpr('vip', fam);
  const np = nodePortMatch(nodePortAddresses(cfg, node, f), fam);
  const det = detectorRules(localTrafficDetector(cfg, node, f), fam);
  const newConn = 'ct state new';
  const shortCircuit = (key: string, map: string) => [
    ...(det ? [`${det.local} ${key} vmap @${map}`] : []),
    'fib saddr type local jump mark-for-masquerade',
    `fib saddr type local ${key} vmap @${map}`,
  ];
  return new Map<string, Chain>([
    ['filter-prerouting-pre-dnat', baseChain('filter', 'prerouting', -110, [`${newConn} jump firewall-check`])],
    ['filter-output-pre-dnat', baseChain('filter', 'output', -110, [`${newConn} jump firewall-check`])],
    ['nat-prerouting', baseChain('nat', 'prerouting', -100, ['jump services'])],
    ['nat-output', baseChain('nat', 'output', -100, ['jump services'])],
    ['filter-input', baseChain('filter', 'input', 0, [
      ...(np ? [`${newConn} jump nodeport-endpoints-check`] : []), `${newConn} jump service-endpoints-check`])],
    ['filter-forward', baseChain('filter', 'forward', 0, [`${newConn} jump service-endpoints-check`, `${newConn} jump cluster-ips-check`])],
    ['filter-output', baseChain('filter', 'output', 0, [`${newConn} jump service-endpoints-check`, `${newConn} jump cluster-ips-check`])],
    ['nat-postrouting', baseChain('nat', 'postrouting', 100, ['jump masquerading'])],
    ['services', { rules: [
      ...shared.clusterMasquerade,
      `${vip} vmap @service-ips`,
      ...(np ? [`${np} meta l4proto . th dport vmap @service-nodeports`] : []),
    ] }],
    // ETP Cluster: always masquerade, since the endpoint may be on another node.
    ['external-cluster', { rules: ['jump mark-for-masquerade', `${vip} vmap @external-ips`] }],
    ['nodeport-cluster', { rules: ['jump mark-for-masquerade', 'meta l4proto . th dport vmap @external-nodeports'] }],
    // ETP Local: pods and the node itself reach every endpoint, as if they went out and back in;
    // the node's own traffic is masqueraded because its source is a local address.
    ['external-local', { rules: [...shortCircuit(vip, 'shortcircuit-ips'), `${vip} vmap @external-ips`] }],
    ['nodeport-local', { rules: [...shortCircuit('meta l4proto . th dport', 'shortcircuit-nodeports'), 'meta l4proto . th dport vmap @external-nodeports'] }],
    // Their rules are added by the load-balancing chains present (dispatchRule).
    ...DISPATCH_KINDS.map((k): [string, Chain] => [dispatchChain(k), { rules: [] }]),
    ['firewall-check', shared.firewallCheck],
    ['service-endpoints-check', { rules: [`${vip} vmap @no-endpoint-services`] }],
    ['nodeport-endpoints-check', { rules: np ? [`${np} meta l4proto . th dport vmap @no-endpoint-nodeports`] : [] }],
    ['cluster-ips-check', { rules: [`${fam.ip} daddr @cluster-ips reject`, `${fam.ip} daddr @service-cidrs drop`] }],
    ['reject-chain', shared.rejectChain],
    ['mark-for-masquerade', shared.markForMasquerade],
    ['masquerading', { rules: [
      // Hairpin: an endpoint reaching itself through a service must see another source.
      `ct status dnat ${fam.ip} saddr . ${fam.ip} daddr @hairpin jump mark-for-masquerade`,
      ...shared.masqueradeMarked,
    ] }],
  ]);
}

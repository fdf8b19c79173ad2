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
 * The chain a lookup (LOOKUPS) sends a load-balanced frontend to, whatever
 * its endpoint count: it finds the frontend's load-balancing chain by the set
 * holding it. So a change of count moves an element between two plain sets,
 * which the kernel commits as it is, where changing a verdict makes it check
 * every jump in the table again (22 ms at 30k Services).
 */
export function dispatchChain(kind: DispatchKind): string {
  return `${kind}-dispatch`;
}

/** The frontends one load-balancing chain (or affinity chain group) serves, keyed as its lookups are. */
export function frontendsSetDecl(kind: DispatchKind, fam: FamilyNames): string {
  return `type ${keyType(kind, fam)} ;`;
}

/** The dispatch chain's rule that enters load-balancing chain `chain`. */
export function dispatchRule(kind: DispatchKind, chain: string, fam: FamilyNames): string {
  return `${keyExpr(kind, fam)} @${chain}-frontends goto ${chain}`;
}

const AFFINITY_SET_SIZE = 1048576;

/**
 * The lookups that send a frontend on, each with the verdicts it can give.
 * A lookup is one plain set per verdict, each entered by its own rule, not a
 * verdict map: the kernel checks every jump of a table whenever a chain or a
 * jump is added (a Service, an endpoint count not served before), and each
 * element of a verdict map is a jump. At 60k elements that check took 13-18
 * ms per change as verdict-map elements and under 1 ms as set elements; the
 * sets are disjoint, so the verdicts are the map's.
 */
const LOOKUPS = {
  'service-ips': { kind: 'vip', verdicts: [`goto ${dispatchChain('vip')}`, 'goto external-local', 'goto external-cluster'] },
  'service-nodeports': { kind: 'np', verdicts: ['goto nodeport-local', 'goto nodeport-cluster'] },
  'external-ips': { kind: 'vip', verdicts: [`goto ${dispatchChain('vip')}`] },
  'external-nodeports': { kind: 'np', verdicts: [`goto ${dispatchChain('np')}`] },
  'shortcircuit-ips': { kind: 'vip', verdicts: [`goto ${dispatchChain('vipsc')}`] },
  'shortcircuit-nodeports': { kind: 'np', verdicts: [`goto ${dispatchChain('npsc')}`] },
  'no-endpoint-services': { kind: 'vip', verdicts: ['goto reject-chain', 'drop'] },
  'no-endpoint-nodeports': { kind: 'np', verdicts: ['goto reject-chain', 'drop'] },
} as const satisfies Record<string, { kind: DispatchKind; verdicts: readonly string[] }>;
export type Lookup = keyof typeof LOOKUPS;

/** Lookup -> verdict -> the set holding the frontends given it: "service-ips-vip-dispatch". */
const LOOKUP_SETS = new Map(Object.entries(LOOKUPS).map(([lookup, { verdicts }]) =>
  [lookup, new Map(verdicts.map((v) => [v as string, `${lookup}-${v.replace(/^goto /, '')}`]))]));

/** The set of `lookup` that holds the frontends given `verdict`. */
export function lookupSet(lookup: Lookup, verdict: string): string {
  const set = LOOKUP_SETS.get(lookup)!.get(verdict);
  if (set === undefined) throw new Error(`${lookup} gives no verdict "${verdict}"`);
  return set;
}

/** The rules of `lookup`, each matching `match` (the packet's key, and what else must hold) against one of its sets. */
function lookupRules(lookup: Lookup, match: string): string[] {
  return LOOKUPS[lookup].verdicts.map((v) => `${match} @${lookupSet(lookup, v)} ${v}`);
}

/**
 * The sets whose elements several service ports may contribute: a ClusterIP
 * (every port of a Service has it), a hairpin pair (an endpoint of several
 * ports). Every other element is keyed by one port's own frontend.
 */
export const SHARED_SETS: readonly string[] = ['cluster-ips', 'hairpin'];

export function declareSets(f: Family): Map<string, string> {
  const fam = familyNames(f);
  const vipKey = keyType('vip', fam);
  const lookups = Object.entries(LOOKUPS).flatMap(([lookup, { kind, verdicts }]) =>
    verdicts.map((v): [string, string] => [lookupSet(lookup as Lookup, v), `type ${keyType(kind, fam)} ;`]));
  return new Map<string, string>([
    ['cluster-ips', `type ${fam.addr} ;`],
    ['nodeport-ips', `type ${fam.addr} ;`],
    ['service-cidrs', `type ${fam.addr} ; flags interval ;`],
    ...lookups,
    ['firewall-ips', `type ${vipKey} ;`],
    ['firewall-allow', `type ${vipKey} . ${fam.addr} ; flags interval ;`],
    ['hairpin', `type ${fam.addr} . ${fam.addr} ;`],
  ]);
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
  const shortCircuit = (key: string, lookup: Lookup) => [
    ...(det ? lookupRules(lookup, `${det.local} ${key}`) : []),
    'fib saddr type local jump mark-for-masquerade',
    ...lookupRules(lookup, `fib saddr type local ${key}`),
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
      ...lookupRules('service-ips', vip),
      ...(np ? lookupRules('service-nodeports', `${np} meta l4proto . th dport`) : []),
    ] }],
    // ETP Cluster: always masquerade, since the endpoint may be on another node.
    ['external-cluster', { rules: ['jump mark-for-masquerade', ...lookupRules('external-ips', vip)] }],
    ['nodeport-cluster', { rules: ['jump mark-for-masquerade', ...lookupRules('external-nodeports', 'meta l4proto . th dport')] }],
    // ETP Local: pods and the node itself reach every endpoint, as if they went out and back in;
    // the node's own traffic is masqueraded because its source is a local address.
    ['external-local', { rules: [...shortCircuit(vip, 'shortcircuit-ips'), ...lookupRules('external-ips', vip)] }],
    ['nodeport-local', { rules: [...shortCircuit('meta l4proto . th dport', 'shortcircuit-nodeports'), ...lookupRules('external-nodeports', 'meta l4proto . th dport')] }],
    // Their rules are added by the load-balancing chains present (dispatchRule).
    ...DISPATCH_KINDS.map((k): [string, Chain] => [dispatchChain(k), { rules: [] }]),
    ['firewall-check', shared.firewallCheck],
    ['service-endpoints-check', { rules: lookupRules('no-endpoint-services', vip) }],
    ['nodeport-endpoints-check', { rules: np ? lookupRules('no-endpoint-nodeports', `${np} meta l4proto . th dport`) : [] }],
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

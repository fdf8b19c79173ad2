// Port policies -> the table's elements and its shared load-balancing chains.
// Everything per service or per endpoint is an element; chains exist once
// per distinct endpoint count (and affinity timeout), whatever the cluster size,
// and each adds the rule that enters it to its dispatch chain.
import type { Config } from '../../config/config.js';
import { withoutNested } from '../../state/addr.js';
import { FAMILIES, type Endpoint, type Family, type NodeInfo, type ProxyState } from '../../state/types.js';
import { decideAll, type NoEndpointVerdict, type PortPolicy } from '../../policy/port-policy.js';
import { affinitySet, backendsMapDecl, declareSets, dispatchChain, dispatchRule, familyNames, frontendsSetDecl, keyExpr, lookupSet, SHARED_SETS, staticChains, type DispatchKind, type FamilyNames, type Lookup } from './layout.js';
import { withAddedRules, withComment, type Chain, type NftFamily, type NftTable } from './model.js';
import { nodePortAddresses } from '../../policy/node-traffic.js';

/** What one service port (or the fixed part of a table) puts in its family's table. */
export interface Contribution {
  readonly elements: readonly (readonly [set: string, key: string, value: string])[];
  readonly sets: readonly (readonly [name: string, decl: string])[];
  readonly chains: readonly (readonly [name: string, chain: Chain])[];
  /** Rules added to a chain several contributions share (see withAddedRules). */
  readonly rules: readonly (readonly [chain: string, rule: string])[];
}

/** The whole tables, at once: what `dump` prints and `dump --base` diffs. */
export function desiredTables(state: ProxyState, cfg: Config, policies: readonly PortPolicy[] = decideAll(state)): NftTable[] {
  return FAMILIES.map((f) => tableOf(familyNames(f).nft, (function* () {
    yield baseContribution(state, cfg, f);
    for (const p of policies) if (p.sp.family === f) yield portContribution(p);
  })()));
}

/** One table holding these contributions, every declared set with its (possibly empty) elements, in declaration order. */
export function tableOf(family: NftFamily, contributions: Iterable<Contribution>): NftTable {
  const sets = new Map<string, string>();
  const chains = new Map<string, Chain>();
  const elements = new Map<string, Map<string, string>>();
  const added = new Map<string, Set<string>>();
  for (const c of contributions) {
    for (const [name, decl] of c.sets) if (!sets.has(name)) sets.set(name, decl);
    for (const [name, chain] of c.chains) if (!chains.has(name)) chains.set(name, chain);
    for (const [chain, rule] of c.rules) (added.get(chain) ?? added.set(chain, new Set()).get(chain)!).add(rule);
    for (const [set, key, value] of c.elements) {
      let elems = elements.get(set);
      if (!elems) elements.set(set, (elems = new Map()));
      const had = elems.get(key);
      if (had !== undefined && had !== value) throw new Error(`element ${key} of ${set} claimed with two values: ${had} and ${value}`);
      elems.set(key, value);
    }
  }
  for (const [name, rules] of added) {
    const chain = chains.get(name);
    if (!chain) throw new Error(`rules added to chain ${name}, which no contribution declares`);
    chains.set(name, withAddedRules(chain, rules));
  }
  return { family, sets, chains, elements: new Map([...sets.keys()].map((name) => [name, elements.get(name) ?? new Map()])) };
}

/** Collects one contribution: the elements, sets and chains one service port (or the fixed part) needs. */
class Recorder {
  readonly elements: [string, string, string][] = [];
  readonly sets = new Map<string, string>();
  readonly chains = new Map<string, Chain>();
  readonly rules: [string, string][] = [];
  /** With `declarationsOnly`, only declarations, chains and the elements of shared sets are recorded. */
  constructor(readonly fam: FamilyNames, private readonly declarationsOnly = false) {}

  add(set: string, key: string, value = ''): void {
    if (!this.declarationsOnly || SHARED_SETS.includes(set)) this.elements.push([set, key, value]);
  }

  done(): Contribution {
    return { elements: this.elements, sets: [...this.sets], chains: [...this.chains], rules: this.rules };
  }

  /** Elements and chains that load-balance `eps` for one frontend key; returns the verdict that leads there. */
  group(kind: DispatchKind, key: string, eps: readonly Endpoint[], affinity: number): string {
    const chain = affinity > 0 ? this.affinityChain(kind, eps.length, affinity) : this.randomChain(kind, eps.length);
    this.sets.set(`${chain}-frontends`, frontendsSetDecl(kind, this.fam));
    this.rules.push([dispatchChain(kind), dispatchRule(kind, chain, this.fam)]);
    this.add(`${chain}-frontends`, key);
    if (!this.declarationsOnly) eps.forEach((e, slot) => this.add(`${chain}-backends`, `${key} . ${slot}`, `${e.ip} . ${e.port}`));
    return `goto ${dispatchChain(kind)}`;
  }

  /** A chain group's own backends map (see backendsMapDecl for why it is not shared). */
  private declareBackends(chain: string, kind: DispatchKind, n: number): string {
    const name = `${chain}-backends`;
    this.sets.set(name, backendsMapDecl(kind, n, this.fam));
    return name;
  }

  private randomChain(kind: DispatchKind, n: number): string {
    const name = `${kind}-${n}`;
    if (!this.chains.has(name)) {
      const map = this.declareBackends(name, kind, n);
      this.chains.set(name, { rules: [`dnat ${this.fam.ip} to ${keyExpr(kind, this.fam)} . numgen random mod ${n} map @${map}`] });
    }
    return name;
  }

  /** kube-proxy's per-endpoint affinity, flattened: the client's last slot is a set element. */
  private affinityChain(kind: DispatchKind, n: number, timeout: number): string {
    const name = `${kind}-affinity-${timeout}-${n}`;
    if (this.chains.has(name)) return name;
    const map = this.declareBackends(name, kind, n);
    const client = `${this.fam.ip} saddr . ${keyExpr(kind, this.fam)}`;
    const slots = Array.from({ length: n }, (_, i) => {
      const set = this.affinitySet(kind, i);
      const chain = `${name}-slot-${i}`;
      this.chains.set(chain, { rules: [
        `update @${set} { ${client} timeout ${timeout}s }`,
        `dnat ${this.fam.ip} to ${keyExpr(kind, this.fam)} . ${slotConst(i)} map @${map}`,
      ] });
      return { set, chain };
    });
    this.chains.set(name, { rules: [
      ...slots.map(({ set, chain }) => `${client} @${set} goto ${chain}`),
      `numgen random mod ${n} vmap { ${slots.map(({ chain }, i) => `${i} : goto ${chain}`).join(', ')} }`,
    ] });
    return name;
  }

  private affinitySet(kind: DispatchKind, slot: number): string {
    const { name, decl } = affinitySet(kind, slot, this.fam);
    this.sets.set(name, decl);
    return name;
  }
}

/** A constant in a concatenation: nft 1.0.6 has no literal there, but "inc mod 1" is always 0. */
function slotConst(i: number): string {
  return `numgen inc mod 1 offset ${i}`;
}

/** The fixed part of a family's table: declarations, static chains, node and ServiceCIDR elements. */
export function baseContribution(state: ProxyState, cfg: Config, f: Family): Contribution {
  const r = new Recorder(familyNames(f));
  for (const [name, decl] of declareSets(f)) r.sets.set(name, decl);
  for (const [name, chain] of staticChains(cfg, state.node, f)) r.chains.set(name, chain);
  for (const ip of nodePortIPs(cfg, state.node, f)) r.add('nodeport-ips', ip);
  for (const c of withoutNested(state.serviceCIDRs.filter((c) => c.family === f))) r.add('service-cidrs', c.text);
  return r.done();
}

/** What one service port adds to its family's table. */
export function portContribution(p: PortPolicy, declarationsOnly = false): Contribution {
  const r = new Recorder(familyNames(p.sp.family), declarationsOnly);
  addPort(r, p);
  return r.done();
}

function nodePortIPs(cfg: Config, node: NodeInfo, f: Family): readonly string[] {
  const np = nodePortAddresses(cfg, node, f);
  return np?.by === 'primary' ? np.ips : [];
}

function addPort(b: Recorder, p: PortPolicy): void {
  const { sp } = p;
  // Every frontend element of the port is commented with its id: built from validated names
  // only, and cut to the 128 characters nft takes.
  const commented = withComment('', sp.id.slice(0, 128));
  // A frontend in `lookup`'s set for `verdict`.
  const to = (lookup: Lookup, key: string, verdict: string) => b.add(lookupSet(lookup, verdict), key, commented);
  const vipKey = (ip: string) => `${ip} . ${sp.protocol} . ${sp.port}`;
  const npKey = `${sp.protocol} . ${sp.nodePort}`;
  const noEndpoint = (v: NoEndpointVerdict) => (v === 'reject' ? 'goto reject-chain' : 'drop');

  b.add('cluster-ips', sp.clusterIP);
  for (const ip of p.hairpin) b.add('hairpin', `${ip} . ${ip}`);
  if (p.internal.length > 0) {
    to('service-ips', vipKey(sp.clusterIP), b.group('vip', vipKey(sp.clusterIP), p.internal, sp.affinityTimeout));
  }
  if (p.internalVerdict) to('no-endpoint-services', vipKey(sp.clusterIP), noEndpoint(p.internalVerdict));

  const externals = [...sp.externalIPs, ...sp.loadBalancerIPs];
  const entry = sp.externalPolicyLocal ? 'local' : 'cluster';
  for (const ip of externals) {
    if (p.externalDispatched) {
      to('service-ips', vipKey(ip), `goto external-${entry}`);
      dispatchExternal(b, p, 'vip', vipKey(ip), 'external-ips', 'shortcircuit-ips', to);
    }
    if (p.externalVerdict) to('no-endpoint-services', vipKey(ip), noEndpoint(p.externalVerdict));
  }
  if (sp.nodePort !== 0) {
    if (p.externalDispatched) {
      to('service-nodeports', npKey, `goto nodeport-${entry}`);
      dispatchExternal(b, p, 'np', npKey, 'external-nodeports', 'shortcircuit-nodeports', to);
    }
    if (p.externalVerdict) to('no-endpoint-nodeports', npKey, noEndpoint(p.externalVerdict));
  }
  if (p.firewallAllow) {
    const allowed = withoutNested(p.firewallAllow);
    for (const ip of sp.loadBalancerIPs) {
      b.add('firewall-ips', vipKey(ip));
      for (const c of allowed) b.add('firewall-allow', `${vipKey(ip)} . ${c.text}`);
    }
  }
}

function dispatchExternal(b: Recorder, p: PortPolicy, kind: 'vip' | 'np', key: string, lookup: Lookup, scLookup: Lookup, to: (lookup: Lookup, key: string, verdict: string) => void): void {
  if (p.external.length > 0) to(lookup, key, b.group(kind, key, p.external, p.sp.affinityTimeout));
  if (p.shortCircuit.length > 0) to(scLookup, key, b.group(kind === 'vip' ? 'vipsc' : 'npsc', key, p.shortCircuit, p.sp.affinityTimeout));
}

// IPVS mode's whole desired state from the port decisions: what `dump
// --proxy-mode ipvs` prints, and what the agent rebuilds when something every
// port depends on changes (node addresses, configuration).
import type { Config } from '../../config/config.js';
import { cidrContains, isLoopback, withoutNested } from '../../state/addr.js';
import { FAMILIES, type Family, type NodeInfo, type ProxyState } from '../../state/types.js';
import { decideAll, type PortPolicy } from '../../policy/port-policy.js';
import type { Contribution } from '../nftables/table-store.js';
import { declareHelperSets, helperChains } from './helper-layout.js';
import { needsFwmark, portIpvsContribution, type FamilyContext } from './contribution.js';
import { FwmarkAllocator } from './fwmarks.js';
import type { IpvsPlan } from './model.js';
import { IpvsStore } from './store.js';

export type HostAddresses = Readonly<Record<Family, readonly string[]>>;

/** What kube-proxy's IPVS mode counts as node addresses: not loopback, not IPv6 link-local. */
export function usableHostAddresses(addresses: readonly string[]): string[] {
  return addresses.filter((a) => !isLoopback(a) && !/^fe[89ab]/i.test(a));
}

/**
 * The addresses NodePort virtual servers are made for: with CIDRs, the node's
 * addresses inside those of their family (a family without any: all of them);
 * `primary`, the node's first address of the family.
 */
export function nodePortIPs(cfg: Config, node: NodeInfo, host: HostAddresses, f: Family): string[] {
  if (cfg.nodePortAddresses === 'primary') return usableHostAddresses(node.ips[f]);
  const mine = cfg.nodePortAddresses.filter((c) => c.family === f);
  const all = usableHostAddresses(host[f]);
  return mine.length === 0 ? all : all.filter((a) => mine.some((c) => cidrContains(c, a)));
}

export function familyContext(cfg: Config, node: NodeInfo, host: HostAddresses, f: Family): FamilyContext {
  return { family: f, hostAddresses: new Set(host[f]), nodePortIPs: nodePortIPs(cfg, node, host, f) };
}

/** The fixed part of a family's helper table. */
export function baseHelperContribution(state: ProxyState, cfg: Config, ctx: FamilyContext): Contribution {
  const f = ctx.family;
  const elements: [string, string, string][] = [
    ...ctx.nodePortIPs.map((ip): [string, string, string] => ['nodeport-ips', ip, '']),
    ...withoutNested(state.serviceCIDRs.filter((c) => c.family === f)).map((c): [string, string, string] => ['service-cidrs', c.text, '']),
  ];
  return { elements, sets: [...declareHelperSets(f)], chains: [...helperChains(cfg, state.node, f)] };
}

/** Fills `store` with everything: the fixed parts, then every port (marks given in id order). */
export function fillIpvsStore(store: IpvsStore, marks: FwmarkAllocator, state: ProxyState, cfg: Config, host: HostAddresses, policies: readonly PortPolicy[]): void {
  const ctx = new Map(FAMILIES.map((f) => [f, familyContext(cfg, state.node, host, f)]));
  for (const f of FAMILIES) store.addBase(f, baseHelperContribution(state, cfg, ctx.get(f)!));
  for (const p of policies) {
    const mark = needsFwmark(p) ? marks.acquire(p.sp.id) : undefined;
    store.add(portIpvsContribution(p, cfg, ctx.get(p.sp.family)!, mark));
  }
}

/** `host` defaults to the Node object's addresses, as `dump` has no kernel to ask. */
export function desiredIpvs(state: ProxyState, cfg: Config, host: HostAddresses = state.node.addresses, policies: readonly PortPolicy[] = decideAll(state)): IpvsPlan {
  const store = new IpvsStore();
  for (const t of store.tables.values()) t.recording = false;
  fillIpvsStore(store, new FwmarkAllocator(cfg), state, cfg, host, policies);
  return store.plan();
}

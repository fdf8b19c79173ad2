// What every port of a family shares in IPVS mode: this node's addresses,
// those NodePorts answer on, and the fixed part of the helper table.
import type { Config } from '../../config/config.js';
import { cidrContains, isLoopback, withoutNested } from '../../state/addr.js';
import type { Family, NodeInfo, ProxyState } from '../../state/types.js';
import type { Contribution } from '../nftables/desired.js';
import { declareHelperSets, helperChains } from './helper-layout.js';
import type { FamilyContext } from './contribution.js';
import { nodePortAddresses } from '../../policy/node-traffic.js';

export type HostAddresses = Readonly<Record<Family, readonly string[]>>;

/** What kube-proxy's IPVS mode counts as node addresses: not loopback, not IPv6 link-local. */
export function usableHostAddresses(addresses: readonly string[]): string[] {
  return addresses.filter((a) => !isLoopback(a) && !/^fe[89ab]/i.test(a));
}

/** The addresses NodePort virtual servers are made for: policy/node-traffic.ts's decision, over the node's addresses now. */
export function nodePortIPs(cfg: Config, node: NodeInfo, host: HostAddresses, f: Family): string[] {
  const np = nodePortAddresses(cfg, node, f);
  if (!np) return [];
  if (np.by === 'primary') return usableHostAddresses(np.ips);
  return usableHostAddresses(host[f]).filter((a) => np.within === 'any' || np.within.some((c) => cidrContains(c, a)));
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
  return { elements, sets: [...declareHelperSets(f)], chains: [...helperChains(cfg, state.node, f)], rules: [] };
}

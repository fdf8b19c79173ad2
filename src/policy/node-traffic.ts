// What this node decides about a packet before any Service is looked at:
// whether its source is pod traffic (kube-proxy's LocalTrafficDetector) and
// whether its destination serves NodePorts. Data, so that the rules and the
// trace of a packet read one decision.
import type { Config } from '../config/config.js';
import { cidrContains, isLoopback } from '../state/addr.js';
import type { Cidr, Family, NodeInfo } from '../state/types.js';

/** How pod traffic is told apart: by source CIDRs or by input interface. */
export type LocalTrafficDetector =
  | { readonly by: 'cidrs'; readonly cidrs: readonly Cidr[] }
  | { readonly by: 'interface'; readonly name: string; readonly prefix: boolean };

/** The detector for one family, or null when it has none (then nothing is taken for pod traffic). */
export function localTrafficDetector(cfg: Config, node: NodeInfo, f: Family): LocalTrafficDetector | null {
  switch (cfg.detectLocalMode) {
    case 'ClusterCIDR':
    case 'NodeCIDR': {
      const cidrs = (cfg.detectLocalMode === 'ClusterCIDR' ? cfg.clusterCIDRs : node.podCIDRs).filter((c) => c.family === f);
      return cidrs.length === 0 ? null : { by: 'cidrs', cidrs };
    }
    case 'BridgeInterface':
      return cfg.bridgeInterface === '' ? null : { by: 'interface', name: cfg.bridgeInterface, prefix: false };
    case 'InterfaceNamePrefix':
      return cfg.interfaceNamePrefix === '' ? null : { by: 'interface', name: cfg.interfaceNamePrefix, prefix: true };
  }
}

/** Whether a packet is pod traffic; `inInterface` is '' for the node's own packets, which have none. */
export function isPodTraffic(d: LocalTrafficDetector, src: string, inInterface: string): boolean {
  if (d.by === 'cidrs') return d.cidrs.some((c) => cidrContains(c, src));
  return d.prefix ? inInterface.startsWith(d.name) : inInterface === d.name;
}

/** Where NodePorts answer: the node's primary addresses, or its local addresses (within CIDRs, or all). */
export type NodePortAddresses =
  | { readonly by: 'primary'; readonly ips: readonly string[] }
  | { readonly by: 'local'; readonly within: readonly Cidr[] | 'any' };

/** NodePort addresses of one family, or null when this family serves no NodePort. Never loopback. */
export function nodePortAddresses(cfg: Config, node: NodeInfo, f: Family): NodePortAddresses | null {
  if (cfg.nodePortAddresses === 'primary') return { by: 'primary', ips: node.ips[f].filter((ip) => !isLoopback(ip)) };
  const mine = cfg.nodePortAddresses.filter((c) => c.family === f);
  // IPVS mode, as kube-proxy's: a family no CIDR is given for answers on every local address.
  if (mine.length === 0) return cfg.mode === 'ipvs' ? { by: 'local', within: 'any' } : null;
  return { by: 'local', within: mine.some((c) => c.text.endsWith('/0')) ? 'any' : mine };
}

/** Whether NodePorts answer on `dst`; `isLocal` tells the node's own addresses, as the kernel knows them. */
export function servesNodePorts(np: NodePortAddresses, dst: string, isLocal: (ip: string) => boolean): boolean {
  if (np.by === 'primary') return np.ips.includes(dst);
  return isLocal(dst) && !isLoopback(dst) && (np.within === 'any' || np.within.some((c) => cidrContains(c, dst)));
}

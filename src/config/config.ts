// The one validated configuration every stage reads (kube-proxy's meanings).
import type { Cidr, Family } from '../state/types.js';

export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';

export interface Config {
  readonly mode: 'nftables';
  readonly hostname: string;
  /** --node-ip: overrides the Node object's addresses. */
  readonly nodeIPs: Readonly<Record<Family, readonly string[]>>;
  readonly clusterCIDRs: readonly Cidr[];
  readonly detectLocalMode: DetectLocalMode;
  readonly bridgeInterface: string;
  readonly interfaceNamePrefix: string;
  /** 'primary' (the node's IPs), or CIDRs; a /0 means every local address. */
  readonly nodePortAddresses: 'primary' | readonly Cidr[];
  readonly masqueradeAll: boolean;
  readonly masqueradeBit: number;
}

export const DEFAULT_CONFIG: Config = {
  mode: 'nftables',
  hostname: '',
  nodeIPs: { ipv4: [], ipv6: [] },
  clusterCIDRs: [],
  detectLocalMode: 'ClusterCIDR',
  bridgeInterface: '',
  interfaceNamePrefix: '',
  nodePortAddresses: 'primary',
  masqueradeAll: false,
  masqueradeBit: 14,
};

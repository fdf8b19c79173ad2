// The one validated configuration every stage reads (kube-proxy's meanings).
import type { Cidr, Family } from '../state/types.js';

export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';

export type ProxyMode = 'nftables' | 'ipvs';

/** kube-proxy's IPVS settings (--ipvs-* flags, the `ipvs:` section of its configuration). */
export interface IpvsConfig {
  /** Scheduler of every virtual server; the kernel checks the name when it is applied. */
  readonly scheduler: string;
  /** Connection timeouts pushed to the kernel, in seconds; 0 leaves the kernel's value. */
  readonly tcpTimeout: number;
  readonly tcpFinTimeout: number;
  readonly udpTimeout: number;
  /** Virtual servers in these CIDRs are never touched, whoever made them. */
  readonly excludeCIDRs: readonly Cidr[];
  /** arp_ignore=1 and arp_announce=2: other links do not answer ARP for the bound service addresses. */
  readonly strictARP: boolean;
}

export interface Config {
  readonly mode: ProxyMode;
  readonly hostname: string;
  /** --node-ip: overrides the Node object's addresses. */
  readonly nodeIPs: Readonly<Record<Family, readonly string[]>>;
  readonly clusterCIDRs: readonly Cidr[];
  readonly detectLocalMode: DetectLocalMode;
  readonly bridgeInterface: string;
  readonly interfaceNamePrefix: string;
  /** 'primary' (the node's IPs), or CIDRs; a /0 means every local address. IPVS mode: a family without CIDRs, every node address. */
  readonly nodePortAddresses: 'primary' | readonly Cidr[];
  readonly masqueradeAll: boolean;
  readonly masqueradeBit: number;
  /** Changes are coalesced: syncs start at least this far apart (0 = at once). */
  readonly minSyncPeriodMs: number;
  /** A full resync at least this often. */
  readonly syncPeriodMs: number;
  /** "host:port" for /healthz and /livez; "" disables. */
  readonly healthzBindAddress: string;
  /** "host:port" for /metrics and /proxyMode; "" disables. */
  readonly metricsBindAddress: string;
  /** Path of a kubeconfig; "" = in-cluster. */
  readonly kubeconfig: string;
  /** --master: overrides the kubeconfig's server. */
  readonly master: string;
  readonly ipvs: IpvsConfig;
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
  minSyncPeriodMs: 1000,
  syncPeriodMs: 30_000,
  healthzBindAddress: '0.0.0.0:10256',
  metricsBindAddress: '127.0.0.1:10249',
  kubeconfig: '',
  master: '',
  ipvs: { scheduler: 'rr', tcpTimeout: 0, tcpFinTimeout: 0, udpTimeout: 0, excludeCIDRs: [], strictARP: false },
};

// The normalized, validated model every later stage reads. Nothing here is raw
// API data: addresses are canonical strings of one family, ports are checked.

export type Family = 'ipv4' | 'ipv6';
export const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** A CIDR in canonical text ("10.0.0.0/8", "fd00::/64") with its family. */
export interface Cidr {
  readonly family: Family;
  readonly text: string;
}

/** One port of one Service, for one IP family (kube-proxy's ServicePort). */
export interface ServicePort {
  /** "ns/name:portName/proto", unique; used in logs and nft comments. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  readonly family: Family;
  readonly protocol: Protocol;
  readonly port: number;
  readonly clusterIP: string;
  readonly nodePort: number; // 0 = none
  readonly externalIPs: readonly string[];
  /** LB ingress IPs that are programmed (ipMode Proxy excluded). */
  readonly loadBalancerIPs: readonly string[];
  readonly loadBalancerSourceRanges: readonly Cidr[];
  readonly externalPolicyLocal: boolean;
  readonly internalPolicyLocal: boolean;
  /** ClientIP affinity timeout in seconds; 0 = no affinity. */
  readonly affinityTimeout: number;
  /** ETP Local LoadBalancer health-check port; 0 = none. */
  readonly healthCheckNodePort: number;
}

/** Every address a ServicePort is reached on: its ClusterIP, externalIPs and LB IPs. */
export function frontendIPs(sp: ServicePort): string[] {
  return [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerIPs];
}

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
  readonly isLocal: boolean;
  /** On another, named node (false for this node's endpoints and for those whose node is not given). */
  readonly isRemote: boolean;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly zoneHints: readonly string[];
  readonly nodeHints: readonly string[];
}

export interface NodeInfo {
  readonly name: string;
  /** The node's primary IP per family (at most one each, unless --node-ip gives more). */
  readonly ips: Readonly<Record<Family, readonly string[]>>;
  /** Every InternalIP and ExternalIP of the Node object, per family, in its order (IPVS NodePorts without a kernel to ask). */
  readonly addresses: Readonly<Record<Family, readonly string[]>>;
  readonly zone: string;
  readonly podCIDRs: readonly Cidr[];
}

/** Everything the proxy knows, as one immutable snapshot. */
export interface ProxyState {
  readonly node: NodeInfo;
  /** Keyed by ServicePort.id, sorted by key when iterated through `sortedPorts`. */
  readonly servicePorts: ReadonlyMap<string, ServicePort>;
  /** Endpoints per ServicePort.id (deduplicated, sorted). */
  readonly endpoints: ReadonlyMap<string, readonly Endpoint[]>;
  readonly serviceCIDRs: readonly Cidr[];
}

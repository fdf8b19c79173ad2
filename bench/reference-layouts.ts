// The two layouts svcrouter is compared with, generated from the same
// synthetic cluster (IPv4 ClusterIPs; perf-notes.md appendix A):
//  - kube-proxy's nftables mode: a service-ips verdict map -> one chain per
//    service with an inline `numgen random mod N vmap {...}` (an anonymous set
//    per service: what makes it load super-linearly) -> one chain per endpoint
//    with a masquerade-mark rule and a dnat;
//  - iptables mode's shape: one linear chain, one rule per service, matched
//    in order (the rule dnats to the service's first endpoint: only the
//    matching cost is being measured).
// Both mark client traffic for masquerade as svcrouter does, so all three
// layouts do the same NAT work on the measured packets.
import { CLUSTER_CIDRS, type Raw } from './synthetic-cluster.js';

export interface RefService {
  readonly name: string;
  readonly vip: string;
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
  readonly targetPort: number;
  readonly endpoints: readonly string[];
}

export interface Layout {
  readonly name: 'kube-proxy' | 'linear';
  /** The whole table, for a fresh namespace. */
  full(services: readonly RefService[]): string;
  /** One more service, against the loaded table. */
  addService(svc: RefService): string;
}

const MASQ_BIT = '0x4000';
const POD_CIDR_V4 = CLUSTER_CIDRS.split(',')[0];

/** Services in generation order with their IPv4 ClusterIP and ready IPv4 endpoints. */
export function referenceServices(objects: readonly Raw[]): RefService[] {
  const endpoints = new Map<string, { targetPort: number; ips: string[] }>();
  for (const o of objects) {
    if (o.kind !== 'EndpointSlice' || o.addressType !== 'IPv4') continue;
    const svc = o.metadata.labels['kubernetes.io/service-name'] as string;
    const entry = endpoints.get(svc) ?? endpoints.set(svc, { targetPort: o.ports[0].port, ips: [] }).get(svc)!;
    for (const e of o.endpoints) if (e.conditions.ready) entry.ips.push(e.addresses[0]);
  }
  return objects.filter((o) => o.kind === 'Service').map((o) => {
    const eps = endpoints.get(o.metadata.name) ?? { targetPort: 0, ips: [] };
    const port = o.spec.ports[0];
    return { name: o.metadata.name, vip: o.spec.clusterIPs[0], protocol: port.protocol.toLowerCase(), port: port.port, targetPort: eps.targetPort, endpoints: eps.ips };
  });
}

/** The NAT plumbing both references share: hooks at kube-proxy's priorities, and masquerade of marked packets. */
function tablePreamble(t: string, maps: string[], prerouting: string[]): string[] {
  return [
    `add table ${t}`,
    ...maps.map((m) => `add map ${t} ${m}`),
    `add chain ${t} nat-prerouting { type nat hook prerouting priority dstnat ; policy accept ; }`,
    `add chain ${t} nat-postrouting { type nat hook postrouting priority srcnat ; policy accept ; }`,
    `add chain ${t} mark-for-masquerade`,
    `add chain ${t} masquerading`,
    `add rule ${t} mark-for-masquerade meta mark set meta mark | ${MASQ_BIT}`,
    `add rule ${t} masquerading meta mark & ${MASQ_BIT} == 0 return`,
    `add rule ${t} masquerading meta mark set meta mark ^ ${MASQ_BIT}`,
    `add rule ${t} masquerading masquerade fully-random`,
    `add rule ${t} nat-postrouting jump masquerading`,
    ...prerouting.map((r) => `add rule ${t} nat-prerouting ${r}`),
  ];
}

const KP = 'ip bench-kube-proxy';

function kubeProxyService(s: RefService): string[] {
  const eps = s.endpoints.map((ip, j) => ({ ip, chain: `endpoint-${s.name}-${j}` }));
  return [
    ...eps.map((e) => `add chain ${KP} ${e.chain}`),
    `add chain ${KP} service-${s.name}`,
    `add rule ${KP} service-${s.name} ip daddr ${s.vip} ${s.protocol} dport ${s.port} ip saddr != ${POD_CIDR_V4} jump mark-for-masquerade`,
    ...(eps.length > 0 ? [`add rule ${KP} service-${s.name} numgen random mod ${eps.length} vmap { ${eps.map((e, j) => `${j} : goto ${e.chain}`).join(', ')} }`] : []),
    ...eps.flatMap((e) => [
      `add rule ${KP} ${e.chain} ip saddr ${e.ip} jump mark-for-masquerade`,
      `add rule ${KP} ${e.chain} meta l4proto ${s.protocol} dnat to ${e.ip}:${s.targetPort}`,
    ]),
  ];
}

const serviceIpsElement = (s: RefService) => `${s.vip} . ${s.protocol} . ${s.port} : goto service-${s.name}`;

export const kubeProxyLayout: Layout = {
  name: 'kube-proxy',
  full(services) {
    const lines = tablePreamble(KP, ['service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }'], ['ip daddr . meta l4proto . th dport vmap @service-ips']);
    for (const s of services) lines.push(...kubeProxyService(s));
    for (let i = 0; i < services.length; i += 1000) {
      lines.push(`add element ${KP} service-ips { ${services.slice(i, i + 1000).map(serviceIpsElement).join(', ')} }`);
    }
    return lines.join('\n') + '\n';
  },
  addService(s) {
    return [...kubeProxyService(s), `add element ${KP} service-ips { ${serviceIpsElement(s)} }`].join('\n') + '\n';
  },
};

const LIN = 'ip bench-linear';
const linearRule = (s: RefService) =>
  `add rule ${LIN} nat-prerouting ip daddr ${s.vip} ${s.protocol} dport ${s.port} meta mark set meta mark | ${MASQ_BIT} dnat to ${s.endpoints[0]}:${s.targetPort}`;

export const linearLayout: Layout = {
  name: 'linear',
  full(services) {
    return [...tablePreamble(LIN, [], []), ...services.filter((s) => s.endpoints.length > 0).map(linearRule)].join('\n') + '\n';
  },
  addService: (s) => linearRule(s) + '\n',
};

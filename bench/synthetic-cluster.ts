// Synthetic clusters for scale measurements: N services x M endpoints, raw
// manifests as the API serves them, with a realistic mix: mostly ClusterIP,
// some NodePort, LoadBalancer with source ranges, ETP Local, affinity,
// dual-stack, and a few services with 1,000 endpoints (in slices of 100, as
// the EndpointSlice controller cuts them). Every VIP, NodePort, LB IP and
// endpoint address is unique, so the agent skips nothing.

export type Raw = Record<string, any>;

/** The node the agent runs as; its addresses are the bench topology's node addresses. */
export const NODE_NAME = 'node-a';
export const CLUSTER_CIDRS = '10.128.0.0/9,fd00:128::/32';
const TARGET_PORT = 8080;

/** Services with 1,000 endpoints, whatever M is (when N is large enough to have them). */
const BIG_SERVICES = new Set([10, 11, 12]);
const BIG_ENDPOINTS = 1000;
const SLICE_SIZE = 100;
const NODEPORT_BASE = 30000;
const NODEPORT_COUNT = 2768; // 30000-32767

const v4 = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
const v4Base = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
/** `prefix` (two groups) followed by n in the last 32 bits, in RFC 5952 form (no 5-digit groups). */
const v6 = (prefix: string, n: number) => {
  const hi = (n >>> 16) & 0xffff;
  const lo = n & 0xffff;
  return hi === 0 ? `${prefix}::${lo.toString(16)}` : `${prefix}::${hi.toString(16)}:${lo.toString(16)}`;
};

const VIP_V4 = v4Base('10.96.0.0'); // ServiceCIDR 10.96.0.0/12
const LB_V4 = v4Base('198.18.0.0'); // 198.18.0.0/15, the benchmarking range
const EP_V4 = v4Base('10.128.0.0'); // endpoints: 10.128.0.0/9 and fd00:128::/96, by index
const BIG_EP_INDEX = v4Base('10.192.0.0') - EP_V4; // the 1,000-endpoint services' (regular ones stay below: N x M < 4M)
const EXTRA_EP_V4 = v4Base('10.250.0.0'); // endpoints the bench adds while it runs

export const isBig = (i: number) => BIG_SERVICES.has(i);
const serviceName = (i: number) => `svc-${i}`;
export const sliceName = (i: number, fam: 'IPv4' | 'IPv6', part?: number) => `${serviceName(i)}-${fam.toLowerCase()}${part === undefined ? '' : `-${part}`}`;
/** The k-th endpoint address the bench adds at run time: outside every generated range. */
export const extraEndpointIPv4 = (k: number) => v4(EXTRA_EP_V4 + 1 + k);

export function syntheticCluster(n: number, m: number): Raw[] {
  const objects: Raw[] = [nodeObject(), serviceCIDR()];
  for (let i = 0; i < n; i++) objects.push(...serviceObjects(i, m));
  return objects;
}

function nodeObject(): Raw {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: NODE_NAME, labels: { 'topology.kubernetes.io/zone': 'z1' } },
    spec: { podCIDRs: ['10.128.0.0/24', 'fd00:128::/64'] },
    status: { addresses: [{ type: 'InternalIP', address: '192.168.50.1' }, { type: 'InternalIP', address: 'fd00:50::1' }] },
  };
}

function serviceCIDR(): Raw {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/12', 'fd00:96::/108'] } };
}

/** Service i and its EndpointSlices; i >= N gives services to add to a cluster of N. */
export function serviceObjects(i: number, m: number): Raw[] {
  const kind = i % 20; // 0-1 NodePort, 2 LB + source ranges, 3 LB ETP Local, 4 affinity, 5 dual-stack, rest ClusterIP
  // NodePorts are few (2,768): they go to the first external services, in order;
  // later NodePort services become ClusterIP and later LBs get no NodePort.
  const npIndex = Math.floor(i / 20) * 4 + kind;
  const nodePort = kind < 4 && npIndex < NODEPORT_COUNT ? NODEPORT_BASE + npIndex : 0;
  const type = kind < 2 ? (nodePort ? 'NodePort' : 'ClusterIP') : kind < 4 ? 'LoadBalancer' : 'ClusterIP';
  const dual = kind === 5;
  const protocol = i % 7 === 0 ? 'UDP' : 'TCP';
  const name = serviceName(i);
  const spec: Raw = {
    type,
    clusterIPs: dual ? [v4(VIP_V4 + 1 + i), v6('fd00:96', 1 + i)] : [v4(VIP_V4 + 1 + i)],
    ...(dual ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } : {}),
    ports: [{ name: 'http', protocol, port: 80, targetPort: TARGET_PORT, ...(nodePort ? { nodePort } : {}) }],
    ...(type === 'LoadBalancer' && !nodePort ? { allocateLoadBalancerNodePorts: false } : {}),
    ...(kind === 2 ? { loadBalancerSourceRanges: ['192.168.0.0/16', '10.0.0.0/8'] } : {}),
    ...(kind === 3 ? { externalTrafficPolicy: 'Local' } : {}),
    ...(kind === 4 ? { sessionAffinity: 'ClientIP' } : {}),
  };
  const status = type === 'LoadBalancer' ? { loadBalancer: { ingress: [{ ip: v4(LB_V4 + 1 + i), ipMode: 'VIP' }] } } : {};
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec, status };
  return [service, ...(dual ? ['IPv4', 'IPv6'] as const : ['IPv4'] as const).flatMap((fam) => slices(i, m, fam, protocol))];
}

function slices(i: number, m: number, fam: 'IPv4' | 'IPv6', protocol: string): Raw[] {
  const big = isBig(i);
  const count = big ? BIG_ENDPOINTS : m;
  const addr = (j: number) => {
    const index = big ? BIG_EP_INDEX + [...BIG_SERVICES].indexOf(i) * BIG_ENDPOINTS + j : 1 + i * m + j;
    return fam === 'IPv4' ? v4(EP_V4 + index) : v6('fd00:128', index);
  };
  const endpoints = Array.from({ length: count }, (_, j) => endpoint(addr(j), j));
  const parts = big ? Array.from({ length: count / SLICE_SIZE }, (_, k) => endpoints.slice(k * SLICE_SIZE, (k + 1) * SLICE_SIZE)) : [endpoints];
  return parts.map((eps, k) => sliceObject(big ? sliceName(i, fam, k) : sliceName(i, fam), serviceName(i), fam, protocol, eps));
}

export function endpoint(address: string, j: number): Raw {
  return { addresses: [address], nodeName: j % 4 === 0 ? NODE_NAME : 'node-b', conditions: { ready: true, serving: true, terminating: false } };
}

function sliceObject(name: string, service: string, fam: 'IPv4' | 'IPv6', protocol: string, endpoints: Raw[]): Raw {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: fam,
    ports: [{ name: 'http', protocol, port: TARGET_PORT }],
    endpoints,
  };
}

/** `count` indices from `from` on whose services are plain TCP ClusterIPs (one port, M endpoints). */
export function plainServiceIndices(from: number, count: number): number[] {
  const out: number[] = [];
  for (let i = from; out.length < count; i++) if (i % 20 >= 6 && i % 7 !== 0 && !isBig(i)) out.push(i);
  return out;
}

// fast-check arbitraries for whole clusters: Services and EndpointSlices as raw
// manifests, drawn from small pools so that two draws share names, VIPs and
// endpoints and the planner sees adds, changes and deletes of every kind.
import fc from 'fast-check';
import type { SourcedObject } from '../../src/state/build.js';

const NODES = ['node-a', 'node-b'];
const ZONES = ['z1', 'z2'];

const endpointArb = fc.record({
  host: fc.integer({ min: 1, max: 6 }),
  node: fc.constantFrom(...NODES),
  state: fc.constantFrom('ready', 'ready', 'ready', 'terminating', 'terminating-not-serving', 'not-ready'),
  zone: fc.option(fc.constantFrom(...ZONES), { nil: undefined }),
});

const serviceArb = fc.record({
  id: fc.integer({ min: 0, max: 5 }),
  type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
  dual: fc.boolean(),
  etpLocal: fc.boolean(),
  itpLocal: fc.boolean(),
  affinity: fc.constantFrom(0, 0, 30, 10800),
  udp: fc.boolean(),
  externalIP: fc.boolean(),
  sourceRanges: fc.boolean(),
  proxyMode: fc.boolean(),
  endpoints: fc.array(endpointArb, { maxLength: 5 }),
  twoPorts: fc.boolean(),
});

export type ServiceSpec = typeof serviceArb extends fc.Arbitrary<infer T> ? T : never;

// The node's zone and address, and the ServiceCIDRs, change between draws too:
// they feed the fixed part of the table.
export const clusterArb = fc.record({
  services: fc.uniqueArray(serviceArb, { selector: (s) => s.id, maxLength: 5 }),
  zone: fc.constantFrom(...ZONES),
  nodeHost: fc.constantFrom(1, 2),
  serviceCIDR: fc.boolean(),
}).map(({ services, zone, nodeHost, serviceCIDR }) => toObjects(services, zone, nodeHost, serviceCIDR));

export function toObjects(services: readonly ServiceSpec[], zone = 'z1', nodeHost = 1, serviceCIDR = false): SourcedObject[] {
  const out: Record<string, unknown>[] = [nodeObject(zone, nodeHost)];
  if (serviceCIDR) out.push({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/16', 'fd00:96::/112'] } });
  for (const s of services) out.push(...serviceObjects(s));
  return out.map((raw, i) => ({ source: `gen#${i}`, raw }));
}

function nodeObject(zone: string, host: number): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': zone } },
    spec: { podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'] },
    status: { addresses: [{ type: 'InternalIP', address: `192.168.50.${host}` }, { type: 'InternalIP', address: `fd00:50::${host}` }] },
  };
}

function serviceObjects(s: ServiceSpec): Record<string, unknown>[] {
  const name = `svc${s.id}`;
  const external = s.type !== 'ClusterIP';
  const proto = s.udp ? 'UDP' : 'TCP';
  const service = {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: {
      type: s.type,
      clusterIPs: s.dual ? [`10.96.0.${10 + s.id}`, `fd00:96::${10 + s.id}`] : [`10.96.0.${10 + s.id}`],
      ports: [
        { name: 'p', protocol: proto, port: 80, ...(external ? { nodePort: 30000 + s.id } : {}) },
        // A second port shares the ClusterIP (and the hairpin pairs) with the first.
        ...(s.twoPorts ? [{ name: 'q', protocol: 'TCP', port: 81, ...(external ? { nodePort: 30100 + s.id } : {}) }] : []),
      ],
      ...(external ? { externalTrafficPolicy: s.etpLocal ? 'Local' : 'Cluster' } : {}),
      internalTrafficPolicy: s.itpLocal ? 'Local' : 'Cluster',
      ...(s.affinity ? { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: s.affinity } } } : {}),
      ...(s.externalIP ? { externalIPs: [`203.0.113.${10 + s.id}`] } : {}),
      ...(s.type === 'LoadBalancer' && s.sourceRanges ? { loadBalancerSourceRanges: ['192.168.50.0/24', '10.0.0.0/8'] } : {}),
    },
    status: s.type === 'LoadBalancer'
      ? { loadBalancer: { ingress: [{ ip: `198.51.100.${10 + s.id}`, ...(s.proxyMode ? { ipMode: 'Proxy' } : {}) }] } } : {},
  };
  const families = s.dual ? ['IPv4', 'IPv6'] : ['IPv4'];
  const slices = families.map((fam) => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `${name}-${fam.toLowerCase()}`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    addressType: fam,
    ports: [{ name: 'p', protocol: proto, port: 8080 }, ...(s.twoPorts ? [{ name: 'q', protocol: 'TCP', port: 8081 }] : [])],
    endpoints: s.endpoints.map((e) => ({
      addresses: [fam === 'IPv4' ? `10.244.${e.node === 'node-a' ? 1 : 2}.${e.host}` : `fd00:244:${e.node === 'node-a' ? 1 : 2}::${e.host}`],
      nodeName: e.node,
      conditions: conditions(e.state),
      ...(e.zone ? { hints: { forZones: [{ name: e.zone }] } } : {}),
    })),
  }));
  return [service, ...slices];
}

function conditions(state: string): Record<string, boolean> {
  switch (state) {
    case 'ready': return { ready: true, serving: true, terminating: false };
    case 'terminating': return { ready: false, serving: true, terminating: true };
    case 'terminating-not-serving': return { ready: false, serving: false, terminating: true };
    default: return { ready: false, serving: false, terminating: false };
  }
}

function identity(raw: Record<string, unknown>): string {
  const m = raw.metadata as { namespace?: string; name: string };
  return `${String(raw.kind)} ${m.namespace ?? ''}/${m.name}`;
}

/** The API's view of going from one draw to the next: deletions of what is gone, then every object again. */
export function feedDraw(tracker: { remove(raw: Record<string, unknown>): void; upsert(source: string, raw: Record<string, unknown>): void }, previous: readonly SourcedObject[], objects: readonly SourcedObject[]): void {
  const present = new Set(objects.map((o) => identity(o.raw)));
  for (const o of previous) if (!present.has(identity(o.raw))) tracker.remove(o.raw);
  for (const o of objects) tracker.upsert(o.source, o.raw);
}

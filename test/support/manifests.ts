// Tiny builders for the Services and EndpointSlices the kernel tests use.
// They produce raw manifests, exactly what a user would write.

export type Raw = Record<string, unknown>;

export interface PortSpec {
  name?: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  port: number;
  nodePort?: number;
}

export function service(name: string, spec: Raw, status: Raw = {}, labels: Record<string, string> = {}): Raw {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', labels }, spec, status };
}

export interface EndpointSpec {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  zones?: string[];
  nodes?: string[];
}

export function slice(serviceName: string, family: 'IPv4' | 'IPv6', ports: { name?: string; protocol?: string; port: number }[], endpoints: EndpointSpec[], suffix = ''): Raw {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `${serviceName}-${family.toLowerCase()}${suffix}`, namespace: 'default', labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: family,
    ports: ports.map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port })),
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      ...(e.node ? { nodeName: e.node } : {}),
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
      ...(e.zones || e.nodes ? { hints: { ...(e.zones ? { forZones: e.zones.map((name) => ({ name })) } : {}), ...(e.nodes ? { forNodes: e.nodes.map((name) => ({ name })) } : {}) } } : {}),
    })),
  };
}

export function node(name: string, ips: string[], zone: string, podCIDRs: string[]): Raw {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, labels: { 'topology.kubernetes.io/zone': zone } },
    spec: { podCIDRs },
    status: { addresses: ips.map((address) => ({ type: 'InternalIP', address })) },
  };
}

/** The ServiceCIDR object the kernel tests allocate their ClusterIPs from. */
export function serviceCIDRs(): Raw {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/16', 'fd00:96::/112'] } };
}

// Synthetic clusters for scale measurements: N services x M endpoints with a
// realistic mix (mostly ClusterIP; some NodePort, LoadBalancer with source
// ranges, ETP Local, affinity, dual-stack). Raw manifests, as the API serves them.

export function syntheticCluster(services, endpoints) {
  const objects = [{
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'z1' } },
    spec: { podCIDRs: ['10.128.0.0/24', 'fd00:128::/64'] },
    status: { addresses: [{ type: 'InternalIP', address: '192.168.50.1' }, { type: 'InternalIP', address: 'fd00:50::1' }] },
  }];
  for (let i = 0; i < services; i++) objects.push(...service(i, endpoints));
  return objects.map((raw, i) => ({ source: `synthetic#${i}`, raw }));
}

function service(i, m) {
  const kind = i % 20; // 0-1 NodePort, 2 LB+ranges, 3 LB ETP Local, 4 affinity, 5 dual-stack, rest ClusterIP
  const name = `svc-${i}`;
  const v4 = `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  const dual = kind === 5;
  const type = kind < 2 ? 'NodePort' : kind < 4 ? 'LoadBalancer' : 'ClusterIP';
  const spec = {
    type,
    clusterIPs: dual ? [v4, `fd00:96::${i.toString(16)}`] : [v4],
    ports: [{ name: 'http', protocol: i % 7 === 0 ? 'UDP' : 'TCP', port: 80, ...(type !== 'ClusterIP' ? { nodePort: 30000 + (i % 2768) + 0 } : {}) }],
    ...(kind === 3 ? { externalTrafficPolicy: 'Local' } : {}),
    ...(kind === 2 ? { loadBalancerSourceRanges: ['192.168.0.0/16', '10.0.0.0/8'] } : {}),
    ...(kind === 4 ? { sessionAffinity: 'ClientIP' } : {}),
  };
  const status = type === 'LoadBalancer' ? { loadBalancer: { ingress: [{ ip: `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}` }] } } : {};
  const slices = (dual ? ['IPv4', 'IPv6'] : ['IPv4']).map((fam) => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: `${name}-${fam.toLowerCase()}`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    addressType: fam,
    ports: [{ name: 'http', protocol: spec.ports[0].protocol, port: 8080 }],
    endpoints: Array.from({ length: m }, (_, j) => {
      const n = i * m + j;
      return {
        addresses: [fam === 'IPv4' ? `10.${128 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}` : `fd00:128::${n.toString(16)}`],
        nodeName: j % 4 === 0 ? 'node-a' : 'node-b',
        conditions: { ready: true, serving: true, terminating: false },
      };
    }),
  }));
  return [{ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec, status }, ...slices];
}

// Synthetic objects dressed as a real API server returns them: uid,
// timestamps, generation, app labels, kubectl's last-applied-configuration,
// managedFields (kubectl's apply and the controller's), a selector and the
// defaulted spec fields; EndpointSlices with owner references, the
// controller's labels and trigger-time annotation, and Pod targetRefs and
// zones on every endpoint. What svcrouter decides on is unchanged: only the
// bytes it must read past grow, as they do on a real cluster.
import type { Raw } from './synthetic-cluster.js';

const CREATED = '2026-11-02T09:14:27Z';

/** A deterministic RFC 4122-looking uid from a name. */
function uid(name: string): string {
  let h = 2166136261;
  const hex: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const c of `${round}/${name}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
    hex.push(h.toString(16).padStart(8, '0'));
  }
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-a${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

/** managedFields' fieldsV1: every key of `o` as "f:key", nested, leaves {} (how the API server records ownership). */
function fieldsOf(o: unknown): unknown {
  if (Array.isArray(o)) return Object.fromEntries(o.map((x, i) => [`k:{"index":${i}}`, fieldsOf(x)]));
  if (o && typeof o === 'object') return Object.fromEntries([['.', {}], ...Object.entries(o).map(([k, v]) => [`f:${k}`, fieldsOf(v)])]);
  return {};
}

function managed(manager: string, apiVersion: string, fields: unknown, subresource?: string): Raw {
  return { manager, operation: 'Update', apiVersion, time: CREATED, fieldsType: 'FieldsV1', fieldsV1: fields, ...(subresource ? { subresource } : {}) };
}

export function dressService(svc: Raw): Raw {
  const { name, namespace } = svc.metadata;
  const labels = { app: name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'bench', tier: 'backend' };
  const spec = {
    ...svc.spec,
    selector: { app: name },
    ports: svc.spec.ports.map((p: Raw) => ({ targetPort: p.port, ...p })),
    sessionAffinity: svc.spec.sessionAffinity ?? 'None',
    ipFamilies: svc.spec.ipFamilies ?? ['IPv4'],
    ipFamilyPolicy: svc.spec.ipFamilyPolicy ?? 'SingleStack',
    internalTrafficPolicy: 'Cluster',
    ...(svc.spec.type !== 'ClusterIP' ? { externalTrafficPolicy: svc.spec.externalTrafficPolicy ?? 'Cluster' } : {}),
  };
  const applied = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, labels }, spec: { type: spec.type, selector: spec.selector, ports: spec.ports } };
  return {
    ...svc,
    metadata: {
      name, namespace, uid: uid(`svc/${namespace}/${name}`), creationTimestamp: CREATED, labels,
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(applied)}\n` },
      managedFields: [
        managed('kubectl-client-side-apply', 'v1', fieldsOf({ metadata: { annotations: {}, labels }, spec: applied.spec })),
        ...(svc.status?.loadBalancer ? [managed('cloud-controller-manager', 'v1', fieldsOf({ status: svc.status }), 'status')] : [managed('kube-apiserver', 'v1', fieldsOf({ spec: { clusterIPs: spec.clusterIPs } }))]),
      ],
    },
    spec,
  };
}

export function dressSlice(slice: Raw): Raw {
  const { name, namespace } = slice.metadata;
  const service = slice.metadata.labels['kubernetes.io/service-name'];
  const endpoints = slice.endpoints.map((e: Raw, j: number) => ({
    ...e,
    targetRef: { kind: 'Pod', namespace, name: `${service}-7d9c8b6f5-${j.toString(36).padStart(5, 'x')}`, uid: uid(`pod/${namespace}/${service}/${j}`) },
    zone: e.nodeName === 'node-a' ? 'z1' : 'z2',
  }));
  return {
    ...slice,
    metadata: {
      name, namespace, uid: uid(`eps/${namespace}/${name}`), creationTimestamp: CREATED, generation: 3,
      labels: { ...slice.metadata.labels, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', app: service },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': CREATED },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: service, uid: uid(`svc/${namespace}/${service}`), controller: true, blockOwnerDeletion: true }],
      managedFields: [managed('endpointslice-controller.k8s.io', 'discovery.k8s.io/v1', fieldsOf({ addressType: slice.addressType, endpoints, ports: slice.ports }))],
    },
    endpoints,
  };
}

/** The object as the API server would return it; other kinds unchanged. */
export function dress(o: Raw): Raw {
  return o.kind === 'Service' ? dressService(o) : o.kind === 'EndpointSlice' ? dressSlice(o) : o;
}

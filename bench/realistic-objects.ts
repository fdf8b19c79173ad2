// Synthetic objects dressed as a real API server returns them: uid,
// timestamps, generation, app labels, kubectl's last-applied-configuration,
// managedFields (kubectl's apply and a second manager's), a selector and the
// defaulted spec fields; EndpointSlices with generateName, owner references,
// the Service's labels and the controller's, the trigger-time annotation,
// and Pod targetRefs and zones on every endpoint. What svcrouter decides on
// is unchanged: only the bytes it must read past grow, as they do on a real
// cluster.
import type { Raw } from './synthetic-cluster.js';

/** When the initial objects were created and last changed: long before any run. */
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

/** The lists the API server merges by key (listType=map), with their keys; every other list is atomic. */
const LIST_KEYS: Record<string, readonly string[]> = { 'spec.ports': ['port', 'protocol'], 'metadata.ownerReferences': ['uid'] };

/**
 * managedFields' fieldsV1 of `o`, as the API server records ownership: every
 * key as "f:key", nested; an item of a keyed list as k:{...}; an atomic list
 * (EndpointSlice endpoints and ports, clusterIPs, ...) as one leaf {}. A null
 * value stands for a field owned whatever it holds.
 */
function fieldsOf(o: unknown, path = ''): unknown {
  const keys = LIST_KEYS[path];
  if (Array.isArray(o)) {
    if (!keys) return {};
    return Object.fromEntries([['.', {}], ...o.map((x: Raw) => [`k:${JSON.stringify(Object.fromEntries(keys.map((k) => [k, x[k]])))}`, fieldsOf(x, `${path}[]`)])]);
  }
  if (o && typeof o === 'object') {
    const fields = Object.entries(o).map(([k, v]) => [`f:${k}`, fieldsOf(v, path ? `${path}.${k}` : k)]);
    return Object.fromEntries(path ? [['.', {}], ...fields] : fields);
  }
  return {};
}

function managed(manager: string, apiVersion: string, time: string, fields: unknown, subresource?: string): Raw {
  return { manager, operation: 'Update', apiVersion, time, fieldsType: 'FieldsV1', fieldsV1: fields, ...(subresource ? { subresource } : {}) };
}

const appLabels = (service: string) => ({ app: service, 'app.kubernetes.io/name': service, 'app.kubernetes.io/part-of': 'bench', tier: 'backend' });

export function dressService(svc: Raw, time = CREATED): Raw {
  const { name, namespace } = svc.metadata;
  const labels = appLabels(name);
  const spec = {
    ...svc.spec,
    clusterIP: svc.spec.clusterIPs[0],
    selector: { app: name },
    ports: svc.spec.ports.map((p: Raw) => ({ targetPort: p.port, ...p })),
    sessionAffinity: svc.spec.sessionAffinity ?? 'None',
    ipFamilies: svc.spec.ipFamilies ?? ['IPv4'],
    ipFamilyPolicy: svc.spec.ipFamilyPolicy ?? 'SingleStack',
    internalTrafficPolicy: 'Cluster',
    ...(svc.spec.type !== 'ClusterIP' ? { externalTrafficPolicy: svc.spec.externalTrafficPolicy ?? 'Cluster' } : {}),
  };
  const applied = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, labels }, spec: { type: spec.type, selector: spec.selector, ports: spec.ports } };
  const annotations = { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(applied)}\n` };
  return {
    ...svc,
    metadata: {
      name, namespace, uid: uid(`svc/${namespace}/${name}`), creationTimestamp: time, labels, annotations,
      managedFields: [
        managed('kubectl-client-side-apply', 'v1', time, fieldsOf({ metadata: { annotations, labels }, spec: { ...applied.spec, sessionAffinity: null, internalTrafficPolicy: null } })),
        svc.status?.loadBalancer
          ? managed('cloud-controller-manager', 'v1', time, fieldsOf({ status: svc.status }), 'status')
          : managed('kube-apiserver', 'v1', time, fieldsOf({ spec: { clusterIP: null, clusterIPs: null } })),
      ],
    },
    spec,
    status: svc.status?.loadBalancer ? svc.status : { loadBalancer: {} },
  };
}

export function dressSlice(slice: Raw, time = CREATED): Raw {
  const { name, namespace } = slice.metadata;
  const service = slice.metadata.labels['kubernetes.io/service-name'];
  const endpoints = slice.endpoints.map((e: Raw, j: number) => ({
    ...e,
    targetRef: { kind: 'Pod', namespace, name: `${service}-7d9c8b6f5-${j.toString(36).padStart(5, 'x')}`, uid: uid(`pod/${namespace}/${service}/${j}`) },
    zone: e.nodeName === 'node-a' ? 'z1' : 'z2',
  }));
  // The controller copies the Service's labels onto its slices.
  const labels = { ...appLabels(service), ...slice.metadata.labels, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' };
  const annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': time };
  const ownerReferences = [{ apiVersion: 'v1', kind: 'Service', name: service, uid: uid(`svc/${namespace}/${service}`), controller: true, blockOwnerDeletion: true }];
  return {
    ...slice,
    metadata: {
      name, generateName: `${service}-`, namespace, uid: uid(`eps/${namespace}/${name}`), creationTimestamp: time, generation: 3,
      labels, annotations, ownerReferences,
      managedFields: [managed('kube-controller-manager', 'discovery.k8s.io/v1', time, fieldsOf({
        addressType: null, endpoints, ports: slice.ports, metadata: { annotations, generateName: null, labels, ownerReferences },
      }))],
    },
    endpoints,
  };
}

/**
 * The object as the API server would return it after a write at `time` (ISO
 * 8601, whole seconds; the fake API server keeps uid and creationTimestamp
 * of an object it already holds); other kinds unchanged.
 */
export function dress(o: Raw, time = CREATED): Raw {
  return o.kind === 'Service' ? dressService(o, time) : o.kind === 'EndpointSlice' ? dressSlice(o, time) : o;
}

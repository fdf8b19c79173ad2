// The four watches kube-proxy keeps: Services and EndpointSlices (with its
// label selectors, so headless and foreign-proxy objects are never received),
// this node's Node, and ServiceCIDRs. Objects are trimmed to what the proxy
// reads before they are cached.
import type { KubeConfig } from '@kubernetes/client-node';
import { Reflector, type Obj, type ReflectorOptions } from './reflector.js';
import type { SourcedObject } from '../state/build.js';

export const PROXY_LABEL_SELECTOR = '!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless';

export interface Informers {
  /** Resolves when every watch has completed its first list. */
  readonly synced: Promise<void>;
  hasSynced(): boolean;
  /** Everything cached, as sourced objects for buildState. */
  objects(): SourcedObject[];
  stop(): Promise<void>;
}

export interface InformerHooks {
  /** Any change to the cache (after or before sync). `kind` is the resource. */
  onChange(kind: Resource, type: string, obj: Obj, old: Obj | undefined): void;
  log: ReflectorOptions['log'];
  onRelist?(resource: Resource): void;
  onRestart?(resource: Resource): void;
}

export type Resource = 'services' | 'endpointslices' | 'nodes' | 'servicecidrs';

const RESOURCES: Record<Resource, { path: string; apiVersion: string; kind: string }> = {
  services: { path: '/api/v1/services', apiVersion: 'v1', kind: 'Service' },
  endpointslices: { path: '/apis/discovery.k8s.io/v1/endpointslices', apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
  nodes: { path: '/api/v1/nodes', apiVersion: 'v1', kind: 'Node' },
  servicecidrs: { path: '/apis/networking.k8s.io/v1/servicecidrs', apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR' },
};

export function startInformers(kc: KubeConfig, nodeName: string, hooks: InformerHooks, tuning: Partial<ReflectorOptions> = {}): Informers {
  const reflectors = new Map<Resource, Reflector>();
  for (const [resource, r] of Object.entries(RESOURCES) as [Resource, (typeof RESOURCES)[Resource]][]) {
    const reflector = new Reflector({
      ...tuning,
      kc,
      path: r.path,
      ...(resource === 'nodes' ? { fieldSelector: `metadata.name=${nodeName}` } : {}),
      ...(resource === 'services' || resource === 'endpointslices' ? { labelSelector: PROXY_LABEL_SELECTOR } : {}),
      // Clusters before 1.33 (or with the API off) do not serve ServiceCIDRs.
      optional: resource === 'servicecidrs',
      trim: (o) => trim(o, r.apiVersion, r.kind),
      onEvent: (type, obj, old) => hooks.onChange(resource, type, obj, old),
      log: hooks.log,
      onRelist: () => hooks.onRelist?.(resource),
      onRestart: () => hooks.onRestart?.(resource),
    });
    reflectors.set(resource, reflector);
    reflector.start();
  }
  const all = [...reflectors.values()];
  return {
    synced: Promise.all(all.map((r) => r.synced)).then(() => undefined),
    hasSynced: () => all.every((r) => r.hasSynced()),
    objects: () => all.flatMap((r) => [...r.items()].map((raw) => ({ source: 'api', raw }))),
    stop: async () => {
      await Promise.all(all.map((r) => r.stop()));
    },
  };
}

/** Drop what the proxy never reads (managedFields, annotations but one, pod specs...): memory at scale. */
function trim(o: Obj, apiVersion: string, kind: string): Obj {
  const m = o.metadata ?? {};
  const trigger = m.annotations?.['endpoints.kubernetes.io/last-change-trigger-time'];
  const metadata = {
    name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion, labels: m.labels,
    ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    ...(trigger ? { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': trigger } } : {}),
  };
  switch (kind) {
    case 'Service': return { apiVersion, kind, metadata, spec: o.spec, status: o.status };
    case 'EndpointSlice': return {
      apiVersion, kind, metadata, addressType: o.addressType, ports: o.ports,
      endpoints: (o.endpoints ?? []).map((e: Obj) => ({ addresses: e.addresses, conditions: e.conditions, nodeName: e.nodeName, hints: e.hints })),
    };
    case 'Node': return { apiVersion, kind, metadata, spec: { podCIDR: o.spec?.podCIDR, podCIDRs: o.spec?.podCIDRs, taints: o.spec?.taints }, status: { addresses: o.status?.addresses } };
    default: return { apiVersion, kind, metadata, spec: o.spec };
  }
}

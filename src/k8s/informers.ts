// The four watches kube-proxy keeps: Services and EndpointSlices (with its
// label selectors, so headless and foreign-proxy objects are never received),
// this node's Node, and ServiceCIDRs. Objects are handed to the caller as they
// arrive; nothing here keeps them.
import type { KubeConfig } from '@kubernetes/client-node';
import { Reflector, type FailureReason, type Obj, type ReflectorOptions } from './reflector.js';

export const PROXY_LABEL_SELECTOR = '!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless';

/**
 * Keys of these four kinds whose values svcrouter never reads, and which make
 * up most of a real object's bytes: cut out of listed objects before parsing.
 * A key is listed only if it means nothing svcrouter reads in any of the kinds.
 */
export const IGNORED_KEYS: ReadonlySet<string> = new Set([
  'managedFields', 'ownerReferences', 'kubectl.kubernetes.io/last-applied-configuration', // metadata
  'uid', 'creationTimestamp', 'generation', 'generateName', // metadata, small but on every object
  'targetRef', 'zone', // EndpointSlice endpoints (topology hints are read from "hints")
  'images', 'nodeInfo', 'volumesAttached', 'volumesInUse', // Node status
]);

export interface Informers {
  /** Resolves when every watch has completed its first list. */
  readonly synced: Promise<void>;
  hasSynced(): boolean;
  /** The resources whose first list is not complete yet. */
  pending(): Resource[];
  stop(): Promise<void>;
}

export interface InformerHooks {
  /** Any change (after or before sync), with apiVersion and kind set. A DELETED object may carry only its metadata. */
  onChange(kind: Resource, type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: Obj): void;
  log: ReflectorOptions['log'];
  onRelist?(resource: Resource): void;
  onError?(resource: Resource, reason: FailureReason, error: Error): void;
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
      ignoredKeys: IGNORED_KEYS,
      typed: (o) => Object.assign(o, { apiVersion: r.apiVersion, kind: r.kind }),
      onEvent: (type, obj) => hooks.onChange(resource, type, obj),
      log: hooks.log,
      onRelist: () => hooks.onRelist?.(resource),
      onError: (reason, error) => hooks.onError?.(resource, reason, error),
    });
    reflectors.set(resource, reflector);
    reflector.start();
  }
  const all = [...reflectors.values()];
  return {
    synced: Promise.all(all.map((r) => r.synced)).then(() => undefined),
    hasSynced: () => all.every((r) => r.hasSynced()),
    pending: () => [...reflectors].filter(([, r]) => !r.hasSynced()).map(([resource]) => resource),
    stop: async () => {
      await Promise.all(all.map((r) => r.stop()));
    },
  };
}

// kube-proxy's CategorizeEndpoints: which endpoints serve Cluster-policy and
// Local-policy traffic (ready -> serving-terminating fallback, topology).
import type { Endpoint, NodeInfo, ServicePort } from '../state/types.js';

export interface Categorized {
  readonly cluster: readonly Endpoint[];
  readonly local: readonly Endpoint[];
  /** Something ready or serving-terminating exists anywhere. */
  readonly hasAny: boolean;
  /** The topology hints that chose `cluster` ('' when none did). */
  readonly topology: TopologyMode;
}

export function usesClusterEndpoints(sp: ServicePort): boolean {
  // Even with ETP Local, cluster endpoints serve short-circuited traffic.
  return !sp.internalPolicyLocal || isExternallyAccessible(sp);
}

export function usesLocalEndpoints(sp: ServicePort): boolean {
  return sp.internalPolicyLocal || (sp.externalPolicyLocal && isExternallyAccessible(sp));
}

export function isExternallyAccessible(sp: ServicePort): boolean {
  return sp.nodePort !== 0 || sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0;
}

export function categorizeEndpoints(endpoints: readonly Endpoint[], sp: ServicePort, node: NodeInfo): Categorized {
  let cluster: Endpoint[] = [];
  let local: Endpoint[] = [];
  let hasAny = false;
  let mode: TopologyMode = '';
  if (usesClusterEndpoints(sp)) {
    mode = topologyMode(endpoints, node);
    cluster = endpoints.filter((e) => e.ready && availableForTopology(e, mode, node));
    // No ready endpoint anywhere (topology already fell back when it had none).
    if (cluster.length === 0) cluster = endpoints.filter((e) => e.serving && e.terminating);
    hasAny = cluster.length > 0;
  }
  if (usesLocalEndpoints(sp)) {
    const usable = endpoints.filter((e) => e.ready || (e.serving && e.terminating));
    if (usable.length > 0) hasAny = true;
    const localReady = endpoints.filter((e) => e.isLocal && e.ready);
    local = localReady.length > 0 ? localReady : endpoints.filter((e) => e.isLocal && e.serving && e.terminating);
  }
  return { cluster, local, hasAny, topology: mode };
}

export type TopologyMode = '' | 'PreferSameNode' | 'PreferSameZone';

/** Hints are used only when every ready endpoint has them and some are for us. */
function topologyMode(endpoints: readonly Endpoint[], node: NodeInfo): TopologyMode {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length === 0) return '';
  if (ready.every((e) => e.nodeHints.length > 0) && ready.some((e) => e.nodeHints.includes(node.name))) return 'PreferSameNode';
  if (ready.every((e) => e.zoneHints.length > 0) && node.zone !== '' && ready.some((e) => e.zoneHints.includes(node.zone))) return 'PreferSameZone';
  return '';
}

function availableForTopology(e: Endpoint, mode: TopologyMode, node: NodeInfo): boolean {
  if (mode === 'PreferSameNode') return e.nodeHints.includes(node.name);
  if (mode === 'PreferSameZone') return e.zoneHints.includes(node.zone);
  return true;
}

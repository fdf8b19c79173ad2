// One ServicePort's traffic decisions, made once for every data plane:
// which endpoints each kind of traffic reaches, and what happens when none.
import { categorizeEndpoints, isExternallyAccessible, type TopologyMode } from './categorize.js';
import { cidrContains } from '../state/addr.js';
import type { Cidr, Endpoint, NodeInfo, ProxyState, ServicePort } from '../state/types.js';

export type NoEndpointVerdict = 'reject' | 'drop' | null;

export interface PortPolicy {
  readonly sp: ServicePort;
  /** Every endpoint the decision was made from (the state's own list, not a copy). */
  readonly endpoints: readonly Endpoint[];
  /** The topology hints that narrowed Cluster-policy endpoints ('' when none did). */
  readonly topology: TopologyMode;
  /** Endpoints for ClusterIP traffic; empty = ClusterIP not dispatched. */
  readonly internal: readonly Endpoint[];
  /** External traffic (NodePort, externalIPs, LB IPs) is dispatched at all. */
  readonly externalDispatched: boolean;
  /** Endpoints for external traffic from outside the node (Local: only local ones). */
  readonly external: readonly Endpoint[];
  /** ETP Local only: endpoints for external traffic from pods or the node itself. */
  readonly shortCircuit: readonly Endpoint[];
  readonly internalVerdict: NoEndpointVerdict;
  readonly externalVerdict: NoEndpointVerdict;
  /** loadBalancerSourceRanges allow-list for the LB IPs, or null when open. */
  readonly firewallAllow: readonly Cidr[] | null;
  /**
   * Endpoints whose own connections to this port can be load-balanced back to
   * themselves here, and so must be masqueraded (hairpin). A remote endpoint's
   * traffic is balanced by its own node, except external traffic short-circuited
   * from pods (ETP Local), which pods on other nodes can send to this node.
   */
  readonly hairpin: readonly string[];
}

export function decidePort(sp: ServicePort, endpoints: readonly Endpoint[], node: NodeInfo): PortPolicy {
  const cat = categorizeEndpoints(endpoints, sp, node);
  const internal = sp.internalPolicyLocal ? cat.local : cat.cluster;
  const external = sp.externalPolicyLocal ? cat.local : cat.cluster;
  const verdict = (usable: readonly Endpoint[]): NoEndpointVerdict =>
    !cat.hasAny ? 'reject' : usable.length === 0 ? 'drop' : null;
  const externalDispatched = cat.hasAny && isExternallyAccessible(sp);
  const shortCircuit = externalDispatched && sp.externalPolicyLocal ? cat.cluster : NONE;
  return {
    sp,
    endpoints,
    topology: cat.topology,
    internal,
    externalDispatched,
    external: externalDispatched ? external : NONE,
    shortCircuit,
    internalVerdict: verdict(internal),
    externalVerdict: isExternallyAccessible(sp) ? verdict(external) : null,
    firewallAllow: firewall(sp, node),
    hairpin: hairpinIPs(internal, externalDispatched ? external : NONE, shortCircuit),
  };
}

/** One shared empty list: most ports have no external or short-circuit endpoints (memory at scale). */
const NONE: readonly never[] = Object.freeze([]);

/** Addresses of every serving endpoint, whatever the policies and topology (what conntrack cleanup keeps). */
export function servingIPs(p: PortPolicy): string[] {
  return p.endpoints.filter((e) => e.ready || e.serving).map((e) => e.ip);
}

function hairpinIPs(internal: readonly Endpoint[], external: readonly Endpoint[], shortCircuit: readonly Endpoint[]): readonly string[] {
  const ips = new Set<string>();
  for (const e of internal) if (!e.isRemote) ips.add(e.ip);
  for (const e of external) if (!e.isRemote) ips.add(e.ip);
  for (const e of shortCircuit) ips.add(e.ip);
  return ips.size === 0 ? NONE : [...ips];
}

/** kube-proxy: ranges apply to LB IPs only; if one covers the node, the LB IPs are allowed too. */
function firewall(sp: ServicePort, node: NodeInfo): readonly Cidr[] | null {
  if (sp.loadBalancerIPs.length === 0 || sp.loadBalancerSourceRanges.length === 0) return null;
  const nodeIP = node.ips[sp.family][0];
  const allowNode = nodeIP !== undefined && sp.loadBalancerSourceRanges.some((c) => cidrContains(c, nodeIP));
  const self = allowNode ? sp.loadBalancerIPs.map((ip) => ({ family: sp.family, text: `${ip}/${sp.family === 'ipv4' ? 32 : 128}` })) : [];
  return [...sp.loadBalancerSourceRanges, ...self];
}

/** Every port's policy, in a stable order (by ServicePort id). */
export function decideAll(state: ProxyState): PortPolicy[] {
  return [...state.servicePorts.keys()].sort().map((id) =>
    decidePort(state.servicePorts.get(id)!, state.endpoints.get(id) ?? [], state.node));
}

/** One port's decision before and after a change (undefined: the port did not exist). */
export interface PolicyChange {
  readonly id: string;
  readonly before: PortPolicy | undefined;
  readonly after: PortPolicy | undefined;
}

/** Every port's decision as an addition: what a whole rewrite brings. */
export function everyPort(all: Iterable<PortPolicy>): PolicyChange[] {
  return [...all].map((after) => ({ id: after.sp.id, before: undefined, after }));
}

/** Every port's policy, kept across syncs: only the ports that changed are decided again. */
export class PolicyTable {
  private readonly byId = new Map<string, PortPolicy>();
  /** What the agent reports every sync, kept as ports change rather than counted over all of them. */
  private readonly healthChecked = new Map<string, PortPolicy>();
  private readonly noLocal = { internal: new Set<string>(), external: new Set<string>() };

  /** Decide the given ports again from the state; returns what changed for each. */
  update(state: ProxyState, ids: Iterable<string>): PolicyChange[] {
    const out: PolicyChange[] = [];
    for (const id of ids) {
      const before = this.byId.get(id);
      const sp = state.servicePorts.get(id);
      const after = sp ? decidePort(sp, state.endpoints.get(id) ?? [], state.node) : undefined;
      if (after) this.byId.set(id, after);
      else this.byId.delete(id);
      if (after && after.sp.healthCheckNodePort !== 0) this.healthChecked.set(id, after);
      else this.healthChecked.delete(id);
      mark(this.noLocal.internal, id, !!after && after.sp.internalPolicyLocal && after.internalVerdict === 'drop');
      mark(this.noLocal.external, id, !!after && after.sp.externalPolicyLocal && after.externalVerdict === 'drop');
      if (before || after) out.push({ id, before, after });
    }
    return out;
  }

  all(): IterableIterator<PortPolicy> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }

  /** Ports of ETP Local LoadBalancers with a healthCheckNodePort. */
  withHealthCheck(): IterableIterator<PortPolicy> {
    return this.healthChecked.values();
  }

  /** Ports with a Local traffic policy and no local endpoint (kube-proxy's sync_proxy_rules_no_local_endpoints_total). */
  noLocalEndpoints(): { internal: number; external: number } {
    return { internal: this.noLocal.internal.size, external: this.noLocal.external.size };
  }
}

function mark(set: Set<string>, id: string, on: boolean): void {
  if (on) set.add(id);
  else set.delete(id);
}

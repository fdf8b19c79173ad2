// `svcrouter trace`: the first packet of a new connection through this node,
// followed through the port decisions the data plane was programmed from, in
// the order the kernel's hooks see it: the source-range firewall, the Service
// lookup (DNAT and the masquerade mark), the no-endpoint and ClusterIP
// checks, and masquerade on the way out.
import type { Config } from '../config/config.js';
import { cidrContains, isLoopback, parseIP } from '../state/addr.js';
import { formatIssue, type Issue } from '../state/issues.js';
import type { Cidr, Endpoint, NodeInfo } from '../state/types.js';
import type { PortPolicy } from '../policy/port-policy.js';
import { isPodTraffic, localTrafficDetector, nodePortAddresses, servesNodePorts, type NodePortAddresses } from '../policy/node-traffic.js';
import { hostPort, type Flow } from './flow.js';
import { Lookups, type Entry, type Frontend } from './lookups.js';
import { selectionSteps, sourceStep, text, type Selection } from './explain.js';
import { ipvsServer, ipvsStep, type IpvsServer } from './ipvs.js';
import type { VirtualServerIndex } from '../backends/ipvs/lookup.js';

/** What a trace reads: what is programmed, and what was skipped. */
export interface TraceView {
  readonly node: NodeInfo;
  readonly serviceCIDRs: readonly Cidr[];
  /** Every programmed port's decision. */
  readonly policies: Iterable<PortPolicy>;
  /** Objects skipped as invalid. */
  readonly issues: readonly Issue[];
  /** IPVS mode: the virtual servers as programmed, and the addresses NodePorts answer on (without it, the report names none). */
  readonly ipvs?: VirtualServerIndex;
}

export type Verdict = 'dnat' | 'reject' | 'drop' | 'accept';

/** The answer, as `trace -o json` prints it and the agent's /trace serves it. */
export interface TraceReport {
  readonly verdict: Verdict;
  /** Every candidate endpoint of a DNAT, "IP:PORT" ("[IPv6]:PORT"), each once. */
  readonly endpoints: readonly string[];
  /** The source is masqueraded whichever endpoint the connection lands on. */
  readonly masquerade: boolean;
  /** Endpoints that are the client itself: a connection landing there is masqueraded (hairpin) even when `masquerade` is false. */
  readonly hairpin: readonly string[];
  /** "ns/name:port", the port by its name (its number when unnamed). */
  readonly service: string | null;
  readonly entry: Entry | null;
  /** ClientIP session affinity timeout in seconds; 0: none. */
  readonly affinity: number;
  /** IPVS mode, DNAT: the virtual server that schedules the connection; else null. */
  readonly ipvs: IpvsServer | null;
  readonly reason: string;
  readonly steps: readonly string[];
}

/** Whether an address is the node's own (the kernel's `fib ... type local`). */
export type IsLocalAddress = (ip: string) => boolean;

/** The node's own addresses as the kernel tests them: these, and loopback's whole range. */
export function ownAddresses(addresses: Iterable<string>): IsLocalAddress {
  const mine = new Set([...addresses].map((a) => parseIP(a)?.ip));
  return (ip) => isLoopback(ip) || mine.has(ip);
}

/** Whether NodePorts answer on an address. */
type ServesNodePorts = (ip: string) => boolean;

interface Stop {
  readonly verdict: 'reject' | 'drop';
  readonly reason: string;
}

export function traceFlow(view: TraceView, cfg: Config, flow: Flow, isLocal: IsLocalAddress): TraceReport {
  const look = new Lookups(view.policies, flow.family, view.serviceCIDRs);
  const det = localTrafficDetector(cfg, view.node, flow.family);
  const pod = det !== null && isPodTraffic(det, flow.src, flow.inInterface);
  const np = nodePortAddresses(cfg, view.node, flow.family);
  // IPVS mode: NodePorts answer where the helper table's nodeport-ips and the NodePort virtual servers say.
  const ipvs = cfg.mode === 'ipvs' ? view.ipvs : undefined;
  const nodePortIPs = ipvs?.nodePortIPs(flow.family);
  const servesNP: ServesNodePorts = (ip) => (nodePortIPs ? nodePortIPs.includes(ip) : np !== null && servesNodePorts(np, ip, isLocal));
  const steps = [sourceStep(flow, det, pod, cfg, view.node)];
  const report = (verdict: Verdict, reason: string, more: Partial<TraceReport> = {}): TraceReport =>
    ({ verdict, endpoints: [], masquerade: false, hairpin: [], service: null, entry: null, affinity: 0, ipvs: null, reason, steps, ...more });

  // Filter, before DNAT: loadBalancerSourceRanges guard LB IPs against every source, pods and the node too.
  const guarded = look.firewall(flow.dst, flow.protocol, flow.dport);
  if (guarded) {
    const allowed = guarded.firewallAllow!.map((c) => c.text).join(', ');
    if (!guarded.firewallAllow!.some((c) => cidrContains(c, flow.src))) {
      return report('drop', `${flow.src} is not in the loadBalancerSourceRanges of Service ${serviceName(guarded)} (${allowed}): dropped`, { service: serviceName(guarded), entry: 'loadBalancerIP' });
    }
    steps.push(`${flow.src} is allowed by the loadBalancerSourceRanges of Service ${serviceName(guarded)} (${allowed}).`);
  }

  // NAT: the Service addresses first, then NodePorts on the addresses that serve them.
  const vip = look.address(flow.dst, flow.protocol, flow.dport);
  const onNodePort = servesNP(flow.dst);
  const byNodePort = onNodePort && !(vip && Lookups.dispatched(vip)) ? look.nodePort(flow.protocol, flow.dport) : undefined;
  const fe = vip && Lookups.dispatched(vip) ? vip : byNodePort && Lookups.dispatched(byNodePort) ? byNodePort : vip ?? byNodePort;
  const skipped = view.issues.filter((i) => (fe && i.claims.service === `${fe.p.sp.namespace}/${fe.p.sp.name}`)
    || i.claims.addresses.includes(flow.dst) || (onNodePort && i.claims.nodePorts.includes(flow.dport)));
  steps.push(fe ? frontendStep(fe, flow, np) : missStep(look, flow, np, isLocal, nodePortIPs));
  for (const i of skipped) steps.push(`Skipped as invalid: ${formatIssue(i)}.`);
  const named = fe ? { service: serviceName(fe.p), entry: fe.entry } : {};

  // The masquerade mark, and why: set by the ClusterIP rule, or on the way to external traffic's endpoints.
  let mark: string | null = null;
  if (look.clusterIP(flow.dst) && (cfg.masqueradeAll || (det && !pod))) {
    mark = cfg.masqueradeAll ? '--masquerade-all masquerades all traffic to ClusterIPs'
      : 'traffic to a ClusterIP that is not pod traffic is masqueraded, so that replies come back through this node';
  }
  const d = fe && Lookups.dispatched(fe) ? dispatch(fe, pod, flow.fromNode || isLocal(flow.src)) : undefined;
  mark ??= d?.mark ?? null;
  const chosen = d?.chosen;
  const server = chosen && ipvs ? ipvsServer(ipvs, flow, fe!.p, chosen.selection) : null;
  if (chosen) {
    const pick = server ? 'the virtual server\'s scheduler picks one per new connection' : undefined;
    steps.push(...selectionSteps(fe!.p, chosen.selection, chosen.endpoints, view.node, pick));
    if (fe!.p.sp.affinityTimeout > 0) {
      steps.push(`sessionAffinity ClientIP (${fe!.p.sp.affinityTimeout}s): a client that connected to this address in that time goes back to its endpoint; a new one may get any candidate.`);
    }
    if (server) steps.push(ipvsStep(server));
  } else if (fe) {
    steps.push(`No endpoint of Service ${serviceName(fe.p)} serves this traffic here: not redirected.`);
  }

  // Filter, after DNAT, on each destination the packet may now have; then masquerade on the way out.
  const leaves = (ip: string) => flow.fromNode || !isLocal(ip);
  if (!chosen) {
    const stop = checksAfterNat(look, servesNP, flow, flow.dst, flow.dport, isLocal);
    if (stop) return report(stop.verdict, withSkipped(stop.reason, skipped), named);
    const masquerade = mark !== null && leaves(flow.dst);
    if (masquerade) steps.push(`Masqueraded: ${mark}.`);
    const why = fe ? `Service ${serviceName(fe.p)} does not redirect it` : `no Service answers on ${hostPort(flow.dst, flow.dport)}/${flow.protocol.toUpperCase()}`;
    return report('accept', withSkipped(`${why}: svcrouter leaves the packet alone`, skipped), { ...named, masquerade });
  }
  const reached: Endpoint[] = [];
  let firstStop: Stop | undefined;
  for (const e of chosen.endpoints) {
    const stop = checksAfterNat(look, servesNP, flow, e.ip, e.port, isLocal);
    if (!stop) reached.push(e);
    else steps.push(`A connection balanced to ${text(e)} is then stopped: ${(firstStop ??= stop).reason}.`);
  }
  if (firstStop && reached.length === 0) return report(firstStop.verdict, firstStop.reason, named);
  const hairpin = reached.filter((e) => leaves(e.ip) && e.ip === flow.src && look.hairpin(e.ip));
  const masquerade = reached.every((e) => leaves(e.ip) && (mark !== null || hairpin.includes(e)));
  if (mark !== null) steps.push(`Masqueraded: the endpoint sees this node's address as the source (${mark}).`);
  else steps.push(`Source kept: the endpoint sees ${flow.src} (${d!.kept ?? (det ? 'pod traffic to a ClusterIP keeps its source' : 'no local-traffic detector, no --masquerade-all')}).`);
  for (const e of hairpin) steps.push(`${flow.src} is itself the endpoint ${text(e)}: a connection that lands there is masqueraded (hairpin), or it would answer itself directly.`);
  for (const e of reached.filter((x) => !leaves(x.ip))) steps.push(`${text(e)} is an address of this node: delivered here, where nothing is masqueraded.`);
  const where = reached.length === 1 ? `endpoint ${text(reached[0]!)}` : `one of ${reached.length} endpoints`;
  const source = masquerade ? 'masqueraded' : hairpin.length > 0 ? 'source kept, masqueraded only to itself (hairpin)' : 'source kept';
  return report('dnat', `DNAT to ${where} of Service ${serviceName(fe!.p)}; ${source}`, {
    ...named, endpoints: reached.map(text), masquerade, hairpin: hairpin.map(text), affinity: fe!.p.sp.affinityTimeout, ipvs: server,
  });
}

interface Dispatch {
  /** The endpoints the packet is balanced over; undefined: not redirected. */
  readonly chosen?: { readonly selection: Selection; readonly endpoints: readonly Endpoint[] };
  /** Why the packet is marked for masquerade on this path. */
  readonly mark?: string;
  /** Why its source is kept on this path, when not marked. */
  readonly kept?: string;
}

/** The Service lookup's verdict for a dispatched frontend, rule by rule as the chains take them. */
function dispatch(fe: Frontend, pod: boolean, fromNodeAddress: boolean): Dispatch {
  const { p } = fe;
  const some = (selection: Selection, endpoints: readonly Endpoint[]) => (endpoints.length > 0 ? { selection, endpoints } : undefined);
  if (fe.entry === 'clusterIP') return { chosen: some('internal', p.internal) };
  if (!p.sp.externalPolicyLocal) {
    return { chosen: some('external', p.external), mark: 'externalTrafficPolicy Cluster: external traffic is masqueraded, as its endpoint may be on another node' };
  }
  // ETP Local: pods short-circuited; then the node's own addresses, marked and short-circuited; then local endpoints.
  if (pod && p.shortCircuit.length > 0) return { chosen: some('short-circuit', p.shortCircuit), kept: 'short-circuited pod traffic keeps its source' };
  if (fromNodeAddress) {
    const mark = 'externalTrafficPolicy Local, but traffic from the node\'s own addresses is masqueraded';
    return { chosen: some('short-circuit', p.shortCircuit) ?? some('external', p.external), mark };
  }
  return { chosen: some('external', p.external), kept: 'externalTrafficPolicy Local keeps the client\'s source' };
}

/**
 * The filter hooks after DNAT, on the destination the packet now has: forwarded
 * packets and the node's own meet the no-endpoint and ClusterIP checks; packets
 * for the node itself meet the no-endpoint checks (NodePorts too) on input, the
 * node's own after coming back in through loopback, source ranges included.
 */
function checksAfterNat(look: Lookups, servesNP: ServesNodePorts, flow: Flow, ip: string, port: number, isLocal: IsLocalAddress): Stop | null {
  const local = isLocal(ip);
  const hooks = flow.fromNode ? ['output', ...(local ? ['loopback', 'input'] : [])] : [local ? 'input' : 'forward'];
  const proto = `${port}/${flow.protocol.toUpperCase()}`;
  for (const hook of hooks) {
    if (hook === 'loopback') {
      const guarded = look.firewall(ip, flow.protocol, port);
      if (guarded && !guarded.firewallAllow!.some((c) => cidrContains(c, flow.src))) {
        return { verdict: 'drop', reason: `${flow.src} is not in the loadBalancerSourceRanges of Service ${serviceName(guarded)}: dropped` };
      }
      continue;
    }
    const nodePort = hook === 'input' && servesNP(ip) ? look.nodePort(flow.protocol, port) : undefined;
    for (const fe of [nodePort, look.address(ip, flow.protocol, port)]) {
      const verdict = fe && Lookups.noEndpointVerdict(fe);
      if (fe && verdict) return { verdict, reason: noEndpointReason(fe, verdict) };
    }
    if (hook === 'input') continue;
    const owner = look.clusterIP(ip);
    if (owner) return { verdict: 'reject', reason: `${ip} is the ClusterIP of Service ${owner.sp.namespace}/${owner.sp.name}, which has no port ${proto}: rejected` };
    const cidr = look.serviceCIDR(ip);
    if (cidr) return { verdict: 'drop', reason: `${ip} is inside the ServiceCIDR ${cidr.text} but no Service has it: dropped` };
  }
  return null;
}

function noEndpointReason(fe: Frontend, verdict: 'reject' | 'drop'): string {
  const name = serviceName(fe.p);
  if (verdict === 'reject') return `Service ${name} has no endpoint that is ready, or serving while terminating: rejected`;
  return fe.entry === 'clusterIP'
    ? `Service ${name} has internalTrafficPolicy Local and no endpoint on this node: dropped`
    : `Service ${name} has externalTrafficPolicy Local and no endpoint on this node: traffic from outside the node is dropped`;
}

const ENTRY_WORDS: Record<Exclude<Entry, 'nodePort'>, string> = {
  clusterIP: 'the ClusterIP', externalIP: 'an external IP', loadBalancerIP: 'a load-balancer ingress IP',
};

function frontendStep(fe: Frontend, flow: Flow, np: NodePortAddresses | null): string {
  const svc = `Service ${fe.p.sp.namespace}/${fe.p.sp.name}, port ${fe.p.sp.portName || fe.p.sp.port}`;
  const proto = flow.protocol.toUpperCase();
  if (fe.entry !== 'nodePort') return `${hostPort(flow.dst, flow.dport)}/${proto} is ${ENTRY_WORDS[fe.entry]} of ${svc}.`;
  const where = np?.by === 'primary' ? 'the node\'s primary address (--nodeport-addresses primary)'
    : `a local address${np?.by === 'local' && np.within !== 'any' ? ` within --nodeport-addresses ${np.within.map((c) => c.text).join(', ')}` : ''}`;
  return `${flow.dport}/${proto} is the NodePort of ${svc}, answering on ${flow.dst}: ${where}.`;
}

/** Why nothing is programmed for this destination, in the terms the user is likely to have expected. */
function missStep(look: Lookups, flow: Flow, np: NodePortAddresses | null, isLocal: IsLocalAddress, ipvsNodePortIPs?: readonly string[]): string {
  const proto = `${flow.dport}/${flow.protocol.toUpperCase()}`;
  const owner = look.clusterIP(flow.dst);
  if (owner) return `${flow.dst} is the ClusterIP of Service ${owner.sp.namespace}/${owner.sp.name}, which has no port ${proto}.`;
  const np2 = look.nodePort(flow.protocol, flow.dport);
  if (np2) {
    const why = np === null ? `--nodeport-addresses has no ${flow.family === 'ipv4' ? 'IPv4' : 'IPv6'} CIDR`
      : np.by === 'primary' ? `NodePorts answer on the node's primary address only (${np.ips.join(', ') || 'none known'}; --nodeport-addresses primary)`
      : isLoopback(flow.dst) ? 'NodePorts never answer on loopback'
      : ipvsNodePortIPs ? ipvsNodePortMiss(flow.dst, ipvsNodePortIPs, np.within)
      : !isLocal(flow.dst) ? `${flow.dst} is not an address of this node`
      : `${flow.dst} is not within --nodeport-addresses ${(np.within as readonly Cidr[]).map((c) => c.text).join(', ')}`;
    return `NodePort ${proto} of Service ${serviceName(np2.p)} does not answer on ${flow.dst}: ${why}.`;
  }
  return `No Service answers on ${hostPort(flow.dst, flow.dport)}/${flow.protocol.toUpperCase()}.`;
}

function ipvsNodePortMiss(dst: string, ips: readonly string[], within: readonly Cidr[] | 'any'): string {
  const where = within === 'any' ? '' : ` within --nodeport-addresses ${within.map((c) => c.text).join(', ')}`;
  return `${dst} is not one of the addresses IPVS mode makes NodePort virtual servers on (${ips.join(', ') || 'none'}: the node's addresses${where}, except IPv6 link-local ones)`;
}

function withSkipped(reason: string, skipped: readonly Issue[]): string {
  return skipped.length === 0 ? reason : `${reason}; ${skipped.map((i) => `${i.object} was skipped as invalid (${i.field ? `${i.field}: ` : ''}${i.reason})`).join('; ')}`;
}

/** kube-proxy's way of naming a service port: "ns/name:port". */
function serviceName(p: PortPolicy): string {
  return `${p.sp.namespace}/${p.sp.name}:${p.sp.portName || p.sp.port}`;
}

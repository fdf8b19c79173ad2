// The words of a trace: where a source comes from, and which endpoints a
// port's decision chose for a kind of traffic and why the others were left.
import type { Config } from '../config/config.js';
import type { LocalTrafficDetector } from '../policy/node-traffic.js';
import type { PortPolicy } from '../policy/port-policy.js';
import type { Endpoint, NodeInfo } from '../state/types.js';
import { hostPort, type Flow } from './flow.js';

/** Which endpoint list of a port a packet is balanced over. */
export type Selection = 'internal' | 'external' | 'short-circuit';

export function sourceStep(flow: Flow, det: LocalTrafficDetector | null, pod: boolean, cfg: Config, node: NodeInfo): string {
  if (flow.fromNode) return `The packet is sent by the node itself, from ${flow.src}.`;
  const fam = flow.family === 'ipv4' ? 'IPv4' : 'IPv6';
  if (!det) {
    const missing = cfg.detectLocalMode === 'NodeCIDR' ? `node ${node.name} has no ${fam} podCIDR` : `--cluster-cidr has no ${fam} CIDR`;
    return `${flow.src} arrives from a pod or another host; no source is taken for pod traffic (--detect-local-mode ${cfg.detectLocalMode}: ${missing}).`;
  }
  if (det.by === 'cidrs') {
    const where = `${cfg.detectLocalMode === 'ClusterCIDR' ? '--cluster-cidr' : `node ${node.name}'s podCIDRs`} ${det.cidrs.map((c) => c.text).join(', ')}`;
    return pod ? `${flow.src} is pod traffic: it is inside ${where}.` : `${flow.src} is not pod traffic: it is outside ${where}.`;
  }
  const flag = det.prefix ? `--pod-interface-name-prefix ${det.name}` : `--pod-bridge-interface ${det.name}`;
  if (!flow.inInterface) return `${flow.src} is not taken for pod traffic: no --in-interface was given, and only packets arriving on ${flag} are.`;
  return pod ? `${flow.src} is pod traffic: it arrives on ${flow.inInterface} (${flag}).` : `${flow.src} is not pod traffic: it arrives on ${flow.inInterface}, not on ${flag}.`;
}

/**
 * The policy that chose `chosen` for this traffic, its candidates, and why
 * every other endpoint is not used; `pick` says how one candidate is taken.
 */
export function selectionSteps(p: PortPolicy, selection: Selection, chosen: readonly Endpoint[], node: NodeInfo, pick = 'one at random per new connection'): string[] {
  const local = selection === 'internal' ? p.sp.internalPolicyLocal : selection === 'external' && p.sp.externalPolicyLocal;
  const steps = [policyLine(selection, local)];
  if (!local && p.topology !== '') {
    steps.push(p.topology === 'PreferSameNode'
      ? `Topology hints (PreferSameNode): only endpoints hinted for this node, ${node.name}.`
      : `Topology hints (PreferSameZone): only endpoints hinted for this node's zone, ${node.zone}.`);
  }
  if (chosen.length > 0 && chosen.every((e) => !e.ready)) steps.push('No endpoint is ready: serving endpoints that are terminating take the traffic.');
  if (chosen.length > 0) steps.push(`Candidate endpoints (${chosen.length}), ${pick}: ${chosen.map(text).join(', ')}.`);
  const left = p.endpoints.filter((e) => !chosen.includes(e));
  if (left.length > 0) steps.push(`Not used: ${left.map((e) => `${text(e)} (${whyNot(e, p, local, chosen, node)})`).join(', ')}.`);
  return steps;
}

function policyLine(selection: Selection, local: boolean): string {
  if (selection === 'short-circuit') {
    return 'externalTrafficPolicy Local, but traffic from pods and from the node itself is short-circuited: it may go to any endpoint, as if it had left the node and come back.';
  }
  const which = selection === 'internal' ? 'internalTrafficPolicy' : 'externalTrafficPolicy';
  return local ? `${which} Local: only endpoints on this node.` : `${which} Cluster: endpoints anywhere in the cluster.`;
}

function whyNot(e: Endpoint, p: PortPolicy, local: boolean, chosen: readonly Endpoint[], node: NodeInfo): string {
  if (!e.ready && !(e.serving && e.terminating)) return e.terminating ? 'terminating and no longer serving' : 'not ready';
  if (local && !e.isLocal) return e.isRemote ? 'on another node' : 'on no node named in its EndpointSlice';
  if (!e.ready && chosen.some((c) => c.ready)) return 'terminating; ready endpoints come first';
  if (!local && p.topology === 'PreferSameNode' && !e.nodeHints.includes(node.name)) return `hinted for ${hintList(e.nodeHints)}`;
  if (!local && p.topology === 'PreferSameZone' && !e.zoneHints.includes(node.zone)) return `hinted for ${hintList(e.zoneHints)}`;
  return 'not chosen';
}

function hintList(hints: readonly string[]): string {
  return hints.length === 0 ? 'nothing' : hints.join(', ');
}

export function text(e: Endpoint): string {
  return hostPort(e.ip, e.port);
}

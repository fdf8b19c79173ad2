// Which UDP conntrack entries became wrong after a change (kube-proxy's rule):
// flows to an endpoint that no longer serves the service, and flows that were
// rejected while a service had no endpoint and now has one. TCP needs nothing:
// a dead endpoint resets, and a new connection gets a new entry.
import { servingIPs, type PolicyChange, type PortPolicy } from './port-policy.js';
import { frontendIPs, type Family } from '../state/types.js';

export interface StaleFlow {
  readonly family: Family;
  /** Original destination address, or undefined for a NodePort (matched by port on any address). */
  readonly origDst?: string;
  readonly origDport: number;
  /** Only flows answered by this endpoint; undefined = every flow to the destination. */
  readonly replySrc?: string;
}

/** The flows made stale by these changes of port decisions (each: before -> after). */
export function staleUdpFlows(changes: Iterable<Omit<PolicyChange, 'id'>>): StaleFlow[] {
  const out: StaleFlow[] = [];
  for (const { before, after } of changes) {
    if (before === after) continue; // the same decision object: nothing changed for this port
    if (!after) {
      if (before && isUdp(before)) for (const ip of serving(before)) out.push(...frontends(before).map((d) => ({ ...d, replySrc: ip })));
      continue;
    }
    if (!isUdp(after)) continue;
    const was = before ? serving(before) : new Set<string>();
    const now = serving(after);
    const destinations = frontends(after);
    if (was.size === 0 && now.size > 0) out.push(...destinations);
    for (const ip of was) if (!now.has(ip)) out.push(...destinations.map((d) => ({ ...d, replySrc: ip })));
  }
  return out;
}

function isUdp(p: PortPolicy): boolean {
  return p.sp.protocol === 'udp';
}

/** kube-proxy ignores traffic policies and topology here: any serving endpoint keeps its flows. */
function serving(p: PortPolicy): Set<string> {
  return new Set(servingIPs(p));
}

function frontends(p: PortPolicy): StaleFlow[] {
  const { sp } = p;
  const vips = frontendIPs(sp).map((ip) => ({ family: sp.family, origDst: ip, origDport: sp.port }));
  return sp.nodePort ? [...vips, { family: sp.family, origDport: sp.nodePort }] : vips;
}

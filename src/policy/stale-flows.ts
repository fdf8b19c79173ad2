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

/** A conntrack entry, as far as choosing stale ones goes. */
export interface TrackedFlow {
  readonly family: Family;
  readonly protocol: 'tcp' | 'udp';
  readonly origDst: string;
  readonly origDport: number;
  readonly replySrc: string;
}

/**
 * The frontends (cluster, external, load-balancer IP and port) with entries
 * that were never DNATed (the reply comes from the original destination).
 * The kernel makes them while the rules are missing: before the first start,
 * while someone else's flush lasts, between the steps that create the tables.
 * The rules never see the rest of such a flow: a new TCP connection from a
 * reused source port meets the entry and is refused; a UDP socket's datagrams
 * go nowhere for as long as it keeps sending. NodePorts are left alone: a
 * node address not rewritten is the node's own traffic.
 */
export function unNattedFlows(entries: Iterable<TrackedFlow>, policies: Iterable<PortPolicy>): Omit<TrackedFlow, 'replySrc'>[] {
  const key = (f: Omit<TrackedFlow, 'replySrc' | 'family'>) => `${f.protocol} ${f.origDst} ${f.origDport}`;
  const found = new Map<string, Omit<TrackedFlow, 'replySrc'>>();
  for (const e of entries) if (e.replySrc === e.origDst) found.set(key(e), { family: e.family, protocol: e.protocol, origDst: e.origDst, origDport: e.origDport });
  if (found.size === 0) return [];
  const out: Omit<TrackedFlow, 'replySrc'>[] = [];
  for (const { sp } of policies) {
    if (sp.protocol === 'sctp') continue;
    for (const origDst of frontendIPs(sp)) {
      const k = key({ protocol: sp.protocol, origDst, origDport: sp.port });
      const f = found.get(k);
      if (f) out.push(f);
      found.delete(k); // once, though two ports share the frontend
    }
  }
  return out;
}

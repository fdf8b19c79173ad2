// Which UDP conntrack entries became wrong after a change (kube-proxy's rule):
// flows to an endpoint that no longer serves the service, and flows that were
// rejected while a service had no endpoint and now has one. TCP needs nothing:
// a dead endpoint resets, and a new connection gets a new entry.
import type { PortPolicy } from './port-policy.js';
import { frontendIPs, type Family } from '../state/types.js';

export interface StaleFlow {
  readonly family: Family;
  /** Original destination address, or undefined for a NodePort (matched by port on any address). */
  readonly origDst?: string;
  readonly origDport: number;
  /** Only flows answered by this endpoint; undefined = every flow to the destination. */
  readonly replySrc?: string;
}

export function staleUdpFlows(prev: readonly PortPolicy[], next: readonly PortPolicy[]): StaleFlow[] {
  const before = new Map(prev.filter(isUdp).map((p) => [p.sp.id, p]));
  const nextIds = new Set(next.map((p) => p.sp.id));
  const out: StaleFlow[] = [];
  for (const p of next.filter(isUdp)) {
    const old = before.get(p.sp.id);
    if (old === p) continue; // the same decision object: nothing changed for this port
    const was = old ? serving(old) : new Set<string>();
    const now = serving(p);
    const gone = [...was].filter((ip) => !now.has(ip));
    const destinations = frontends(p);
    if (was.size === 0 && now.size > 0) out.push(...destinations);
    for (const ip of gone) out.push(...destinations.map((d) => ({ ...d, replySrc: ip })));
  }
  for (const old of before.values()) {
    if (nextIds.has(old.sp.id)) continue;
    for (const ip of serving(old)) out.push(...frontends(old).map((d) => ({ ...d, replySrc: ip })));
  }
  return out;
}

function isUdp(p: PortPolicy): boolean {
  return p.sp.protocol === 'udp';
}

/** kube-proxy ignores traffic policies and topology here: any serving endpoint keeps its flows. */
function serving(p: PortPolicy): Set<string> {
  return new Set(p.servingIPs);
}

function frontends(p: PortPolicy): StaleFlow[] {
  const { sp } = p;
  const vips = frontendIPs(sp).map((ip) => ({ family: sp.family, origDst: ip, origDport: sp.port }));
  return sp.nodePort ? [...vips, { family: sp.family, origDport: sp.nodePort }] : vips;
}

// IPVS mode's part of a trace: the virtual server that schedules a redirected
// connection, looked up in the desired state as IPVS looks up its table.
import { virtualServerFor, type VirtualServerIndex } from '../backends/ipvs/lookup.js';
import { persistenceOf, serviceArg } from '../backends/ipvs/model.js';
import type { PortPolicy } from '../policy/port-policy.js';
import type { Selection } from './explain.js';
import type { Flow } from './flow.js';

/** The virtual server of a DNAT, as `trace -o json` prints it. */
export interface IpvsServer {
  /** ipvsadm's service argument, as `dump --ipvsadm` prints it: "-t 10.96.0.10:80", "-u [fd00::10]:53", "-f 4660 -6". */
  readonly virtualServer: string;
  readonly scheduler: string;
  /** Persistence timeout in seconds (ClientIP affinity); 0: none. */
  readonly persistence: number;
}

/**
 * The virtual server a packet dispatched over `selection` of port `p` meets:
 * short-circuit traffic carries the port's firewall mark (the helper table sets
 * it), any other the mark of no virtual server (the masquerade bit never is one).
 */
export function ipvsServer(index: VirtualServerIndex, flow: Flow, p: PortPolicy, selection: Selection): IpvsServer | null {
  const mark = selection === 'short-circuit' ? index.fwmark(p.sp.id) ?? 0 : 0;
  const vs = virtualServerFor(index, { family: flow.family, protocol: flow.protocol, dst: flow.dst, dport: flow.dport, mark });
  return vs ? { virtualServer: serviceArg(vs), scheduler: vs.scheduler, persistence: persistenceOf(vs) } : null;
}

export function ipvsStep(s: IpvsServer): string {
  const persistence = s.persistence > 0 ? `persistence ${s.persistence}s per client address` : 'no persistence';
  const how = `scheduler ${s.scheduler}, ${persistence}; its real servers are the candidates`;
  if (!s.virtualServer.startsWith('-f ')) return `IPVS virtual server ${s.virtualServer} schedules the connection (${how}).`;
  const mark = s.virtualServer.split(' ')[1];
  return `The helper table marks short-circuit traffic with the port's firewall mark ${mark}, which IPVS looks up first: firewall-mark virtual server ${s.virtualServer} schedules the connection (${how}).`;
}

// `ipvsadm -Sn` of a network namespace, read back into the IPVS client's
// model, to cross-check what the client reads with what ipvsadm reads.
import { ServiceFlags, type RealServer, type VirtualServer, type VirtualServerKey } from '../../src/kernel/ipvs/model.js';
import { netnsExec } from './netns.js';

export const vsKey = (vs: VirtualServerKey) => `${vs.protocol} ${vs.address} ${vs.port}`;

/** A real server as ipvsadm -S prints it: without its thresholds. */
export type SavedRealServer = Omit<RealServer, 'upperThreshold' | 'lowerThreshold'>;

/** `ipvsadm -Sn` read back into the client's model (thresholds are not in its output). */
export async function ipvsadmRules(ns: string): Promise<{ services: VirtualServer[]; reals: Map<string, SavedRealServer[]> }> {
  const services: VirtualServer[] = [];
  const reals = new Map<string, SavedRealServer[]>();
  const protocols: Record<string, VirtualServer['protocol']> = { '-t': 'tcp', '-u': 'udp', '--sctp-service': 'sctp' };
  const hostPort = (s: string) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s)!;
    return { address: m[1]!, port: Number(m[2]) };
  };
  for (const line of (await netnsExec(ns, ['ipvsadm', '-Sn'])).trim().split('\n').filter(Boolean)) {
    const w = line.split(' ');
    const opt = (o: string) => (w.includes(o) ? w[w.indexOf(o) + 1]! : undefined);
    const svc = { protocol: protocols[w[1]!]!, ...hostPort(w[2]!) };
    const key = { ...svc, family: svc.address.includes(':') ? 'ipv6' as const : 'ipv4' as const };
    if (w[0] === '-A') {
      const mask = opt('-M');
      const schedFlags = (opt('-b') ?? '').split(',');
      const flags = (opt('-p') ? ServiceFlags.persistent : 0) | (w.includes('-o') ? ServiceFlags.onePacket : 0)
        | (schedFlags.some((f) => f.endsWith('-fallback')) ? ServiceFlags.sched1 : 0) | (schedFlags.some((f) => f.endsWith('-port')) ? ServiceFlags.sched2 : 0);
      const netmask = !mask ? (key.family === 'ipv4' ? 32 : 128)
        : mask.includes('.') ? mask.split('.').reduce((n, b) => n + [...Number(b).toString(2)].filter((c) => c === '1').length, 0) : Number(mask);
      services.push({ ...key, scheduler: opt('-s')!, flags, timeout: Number(opt('-p') ?? 0), netmask });
    } else {
      const list = reals.get(vsKey(key)) ?? [];
      list.push({ ...hostPort(opt('-r')!), weight: Number(opt('-w')), forwardMethod: w.includes('-m') ? 'masq' : w.includes('-g') ? 'droute' : 'tunnel' });
      reals.set(vsKey(key), list);
    }
  }
  return { services, reals };
}

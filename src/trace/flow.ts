// The packet a trace follows: the first one of a new connection, as the
// command line and the agent's /trace endpoint both take it.
import { parseIP } from '../state/addr.js';
import { parseBindAddress } from '../config/bind-address.js';
import { INTERFACE_NAME } from '../config/load.js';
import type { Family, Protocol } from '../state/types.js';

export interface Flow {
  readonly family: Family;
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
  readonly protocol: Protocol;
  /** Sent by the node itself (the output hook), rather than arriving from a pod or another host. */
  readonly fromNode: boolean;
  /** The interface it arrives on ('' when not given, and always for the node's own packets). */
  readonly inInterface: string;
}

/** The flow as a user writes it: --from, --to IP:PORT (or [IPv6]:PORT), --protocol, --from-node, --in-interface. */
export interface FlowArgs {
  readonly from?: string;
  readonly to?: string;
  readonly protocol?: string;
  readonly fromNode?: boolean;
  readonly inInterface?: string;
}

export class FlowError extends Error {}

export function parseFlow(a: FlowArgs): Flow {
  const src = parseIP(a.from);
  if (!src) throw new FlowError(`--from: ${JSON.stringify(a.from ?? '')} is not an IP address`);
  const to = hostAndPort(a.to ?? '');
  const dst = parseIP(to?.host);
  const dport = to?.port ?? 0;
  if (!dst || dport < 1) throw new FlowError(`--to: ${JSON.stringify(a.to ?? '')} is not IP:PORT (or [IPv6]:PORT) with a port in 1-65535`);
  if (src.family !== dst.family) throw new FlowError(`--from ${src.ip} and --to ${dst.ip} are of different IP families`);
  const protocol = (a.protocol ?? 'tcp').toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') throw new FlowError(`--protocol: ${JSON.stringify(a.protocol)} is not tcp, udp or sctp`);
  const inInterface = a.inInterface ?? '';
  if (inInterface !== '' && !INTERFACE_NAME.test(inInterface)) throw new FlowError(`--in-interface: ${JSON.stringify(inInterface)} is not an interface name`);
  if (inInterface !== '' && a.fromNode) throw new FlowError('--in-interface and --from-node: the node\'s own packets arrive on no interface');
  return { family: src.family, src: src.ip, dst: dst.ip, dport, protocol, fromNode: a.fromNode === true, inInterface };
}

function hostAndPort(text: string): { host: string; port: number } | null {
  try {
    return parseBindAddress(text);
  } catch {
    return null;
  }
}

/** "TCP 10.0.0.1 -> 10.96.0.1:80" ([IPv6] in brackets). */
export function describeFlow(f: Flow): string {
  return `${f.protocol.toUpperCase()} ${f.src} -> ${hostPort(f.dst, f.dport)}`;
}

export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The flow as the agent's /trace takes it. */
export function flowQuery(f: Flow): URLSearchParams {
  const q = new URLSearchParams({ from: f.src, to: hostPort(f.dst, f.dport), protocol: f.protocol });
  if (f.fromNode) q.set('from-node', 'true');
  if (f.inInterface) q.set('in-interface', f.inInterface);
  return q;
}

export function flowFromQuery(q: URLSearchParams): Flow {
  const fromNode = q.get('from-node');
  if (fromNode !== null && fromNode !== 'true' && fromNode !== 'false') throw new FlowError(`from-node: ${JSON.stringify(fromNode)} is not true or false`);
  return parseFlow({
    from: q.get('from') ?? undefined, to: q.get('to') ?? undefined, protocol: q.get('protocol') ?? undefined,
    fromNode: fromNode === 'true', inInterface: q.get('in-interface') ?? undefined,
  });
}

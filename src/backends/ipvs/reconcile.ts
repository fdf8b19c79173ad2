// The changes that bring the kernel's IPVS table (as last read, or as the
// agent's mirror of what it programmed) to the desired one, for the keys
// asked about. Graceful termination as kube-proxy: a TCP real server that
// goes away is set to weight 0 and deleted once its connections are gone or
// its drain time is over; UDP and SCTP ones are deleted at once, and their
// flows returned for conntrack cleanup. Pure: time comes in as `now`.
import type { Protocol } from '../../state/types.js';
import { hostPort, type RealServer, type VirtualServer, type VirtualServerKey, type VirtualServerSettings } from './model.js';

export interface ObservedRealServer extends RealServer {
  readonly activeConns: number;
  readonly inactiveConns: number;
}

export type ObservedVirtualServer = VirtualServerKey & VirtualServerSettings & { readonly reals: readonly ObservedRealServer[] };

export type IpvsChange =
  | { readonly op: 'add-virtual-server'; readonly vs: VirtualServer }
  | { readonly op: 'update-virtual-server'; readonly vs: VirtualServer }
  | { readonly op: 'delete-virtual-server'; readonly vs: VirtualServerKey }
  | { readonly op: 'add-real-server'; readonly vs: VirtualServerKey; readonly rs: RealServer }
  | { readonly op: 'update-real-server'; readonly vs: VirtualServerKey; readonly rs: RealServer }
  | { readonly op: 'delete-real-server'; readonly vs: VirtualServerKey; readonly rs: RealServer };

/** A UDP or SCTP real server deleted at once: its conntrack entries go too. */
export interface DeletedFlow {
  readonly vs: VirtualServerKey;
  readonly rs: RealServer;
}

/** Real servers at weight 0, by "serviceArg realAddr:port", since when (ms). */
export type DrainQueue = Map<string, number>;

/** kube-proxy waits for connections without a limit; a stuck client must not hold a dead endpoint forever. */
export const DRAIN_TIMEOUT_MS = 15 * 60_000;

export interface ReconcileInput {
  readonly desired: (key: string) => VirtualServer | undefined;
  readonly observed: ReadonlyMap<string, ObservedVirtualServer>;
  /** Keys to look at: those touched since the last sync, or all (desired and observed) on a full one. */
  readonly keys: Iterable<string>;
  /** Whether an observed virtual server not desired is svcrouter's to delete. */
  readonly owned: (vs: ObservedVirtualServer) => boolean;
  readonly draining: DrainQueue;
  readonly now: number;
}

export function reconcileIpvs(input: ReconcileInput): { changes: IpvsChange[]; deletedFlows: DeletedFlow[] } {
  const changes: IpvsChange[] = [];
  const deletedFlows: DeletedFlow[] = [];
  for (const key of new Set(input.keys)) {
    const want = input.desired(key);
    const have = input.observed.get(key);
    if (!want) {
      if (have && input.owned(have)) {
        changes.push({ op: 'delete-virtual-server', vs: have });
        for (const rs of have.reals) forget(input.draining, key, rs);
      }
      continue;
    }
    if (!have) {
      changes.push({ op: 'add-virtual-server', vs: want });
      for (const rs of want.reals) changes.push({ op: 'add-real-server', vs: want, rs });
      continue;
    }
    if (have.scheduler !== want.scheduler || have.flags !== want.flags || have.timeout !== want.timeout || have.netmask !== want.netmask) {
      changes.push({ op: 'update-virtual-server', vs: want });
    }
    const wanted = new Map(want.reals.map((rs) => [hostPort(rs.address, rs.port), rs]));
    for (const rs of have.reals) {
      const id = hostPort(rs.address, rs.port);
      const w = wanted.get(id);
      if (w) {
        // Back from draining, or a weight left by a crash (kube-proxy #92019): the desired weight again.
        if (rs.weight !== w.weight) changes.push({ op: 'update-real-server', vs: want, rs: w });
        forget(input.draining, key, rs);
        continue;
      }
      const gone = retire(want, rs, key, input);
      if (gone) changes.push(gone);
      if (gone?.op === 'delete-real-server' && !drains(protocolOf(want))) deletedFlows.push({ vs: want, rs });
    }
    const present = new Set(have.reals.map((rs) => hostPort(rs.address, rs.port)));
    for (const [id, rs] of wanted) if (!present.has(id)) changes.push({ op: 'add-real-server', vs: want, rs });
  }
  return { changes, deletedFlows };
}

/** The change for a real server no longer wanted: drain, delete, or nothing yet. */
function retire(vs: VirtualServer, rs: ObservedRealServer, key: string, input: ReconcileInput): IpvsChange | undefined {
  const id = drainId(key, rs);
  if (!drains(protocolOf(vs))) {
    input.draining.delete(id);
    return { op: 'delete-real-server', vs, rs };
  }
  const since = input.draining.get(id);
  if (since === undefined) {
    input.draining.set(id, input.now);
    return rs.weight === 0 && rs.activeConns + rs.inactiveConns === 0 ? done(input, id, vs, rs) : { op: 'update-real-server', vs, rs: { ...plain(rs), weight: 0 } };
  }
  if (rs.activeConns + rs.inactiveConns === 0 || input.now - since >= DRAIN_TIMEOUT_MS) return done(input, id, vs, rs);
  return rs.weight === 0 ? undefined : { op: 'update-real-server', vs, rs: { ...plain(rs), weight: 0 } };
}

function done(input: ReconcileInput, id: string, vs: VirtualServer, rs: ObservedRealServer): IpvsChange {
  input.draining.delete(id);
  return { op: 'delete-real-server', vs, rs: plain(rs) };
}

/** TCP drains; so does a firewall-mark server, whose protocol the kernel does not say (svcrouter's carry TCP or UDP: a UDP one drains within its idle time). */
function drains(protocol: Protocol | undefined): boolean {
  return protocol === undefined || protocol === 'tcp';
}

function protocolOf(vs: VirtualServerKey): Protocol | undefined {
  return vs.fwmark === undefined ? vs.protocol : undefined;
}

function forget(q: DrainQueue, key: string, rs: RealServer): void {
  q.delete(drainId(key, rs));
}

function drainId(key: string, rs: RealServer): string {
  return `${key} ${hostPort(rs.address, rs.port)}`;
}

function plain(rs: RealServer): RealServer {
  return { address: rs.address, port: rs.port, weight: rs.weight };
}

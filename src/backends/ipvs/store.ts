// IPVS mode's desired state as the sum of contributions (one per service
// port, plus the fixed part of each family's helper table), kept lean as
// nftables mode keeps its tables (nftables/table-store.ts): the helper tables'
// declarations and shared elements in TableStores, and for each virtual
// server and bound address only who claims it. A virtual server itself is
// derived again from its port's decision when it is needed. Records which
// virtual servers and addresses a round of changes touched, so the agent's
// diff against the kernel costs what changed.
import { FAMILIES, type Family } from '../../state/types.js';
import { familyNames, SHARED_SETS } from '../nftables/layout.js';
import type { Contribution } from '../nftables/desired.js';
import { TableStore } from '../nftables/table-store.js';
import type { IpvsContribution } from './contribution.js';
import { serviceArg } from './model.js';

/** Helper-table sets whose elements several ports share: every port of a Service binds its addresses. */
export const HELPER_SHARED_SETS: readonly string[] = [...SHARED_SETS, 'bound-ips'];

export class IpvsStore {
  readonly tables = new Map<Family, TableStore>(FAMILIES.map((f) => [f, new TableStore(familyNames(f).nft, HELPER_SHARED_SETS)]));
  /**
   * The ports claiming each virtual server (by serviceArg). Two ports may
   * produce one key (an external IP that is a node address, at another port's
   * NodePort); the smallest port id wins.
   */
  private readonly claims = new Map<string, Set<string>>();
  private readonly addresses = new Map<Family, Map<string, number>>(FAMILIES.map((f) => [f, new Map()]));
  private touchedServers = new Set<string>();
  private touchedAddresses = new Set<string>();

  addBase(f: Family, c: Contribution): void {
    this.tables.get(f)!.add(c);
  }

  removeBase(f: Family, c: Contribution): void {
    this.tables.get(f)!.remove(c);
  }

  add(c: IpvsContribution): void {
    this.tables.get(c.family)!.add(c.helper);
    for (const vs of c.virtualServers) {
      const key = serviceArg(vs);
      let ids = this.claims.get(key);
      if (!ids) this.claims.set(key, (ids = new Set()));
      ids.add(c.id);
      this.touchedServers.add(key);
    }
    const counts = this.addresses.get(c.family)!;
    for (const a of c.addresses) {
      counts.set(a, (counts.get(a) ?? 0) + 1);
      this.touchedAddresses.add(a);
    }
  }

  remove(c: IpvsContribution): void {
    this.tables.get(c.family)!.remove(c.helper);
    for (const vs of c.virtualServers) {
      const key = serviceArg(vs);
      const ids = this.claims.get(key);
      if (!ids) continue;
      ids.delete(c.id);
      if (ids.size === 0) this.claims.delete(key);
      this.touchedServers.add(key);
    }
    const counts = this.addresses.get(c.family)!;
    for (const a of c.addresses) {
      const n = (counts.get(a) ?? 0) - 1;
      if (n > 0) counts.set(a, n);
      else counts.delete(a);
      this.touchedAddresses.add(a);
    }
  }

  /** The port whose virtual server `key` is, if any. */
  claimant(key: string): string | undefined {
    let first: string | undefined;
    for (const id of this.claims.get(key) ?? []) if (first === undefined || id < first) first = id;
    return first;
  }

  /** Every virtual server's key. */
  serverKeys(): IterableIterator<string> {
    return this.claims.keys();
  }

  isBound(family: Family, address: string): boolean {
    return this.addresses.get(family)!.has(address);
  }

  /** Bound addresses per family, in byte order. */
  boundAddresses(): Record<Family, string[]> {
    const sorted = (f: Family) => [...this.addresses.get(f)!.keys()].sort(compareArgs);
    return { ipv4: sorted('ipv4'), ipv6: sorted('ipv6') };
  }

  /** The keys of virtual servers and the addresses touched since the last call, and forget them. */
  takeTouched(): { servers: Set<string>; addresses: Set<string> } {
    const out = { servers: this.touchedServers, addresses: this.touchedAddresses };
    this.touchedServers = new Set();
    this.touchedAddresses = new Set();
    return out;
  }
}

/** Byte order, as `LC_ALL=C sort` orders ipvsadm's lines (see ipvsadm.ts). */
export function compareArgs(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

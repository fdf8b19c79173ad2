// IPVS mode's desired state as the sum of contributions (one per service
// port, plus the fixed part of each family's helper table): the helper tables
// in TableStores, the virtual servers by key, the bound addresses with
// reference counts. Records which virtual servers and addresses a round of
// changes touched, so the agent's diff against the kernel costs what changed.
import { FAMILIES, type Family } from '../../state/types.js';
import { familyNames } from '../nftables/layout.js';
import { TableStore, type Contribution } from '../nftables/table-store.js';
import type { IpvsContribution } from './contribution.js';
import { serviceArg, type IpvsPlan, type VirtualServer } from './model.js';

export class IpvsStore {
  readonly tables = new Map<Family, TableStore>(FAMILIES.map((f) => [f, new TableStore(familyNames(f).nft)]));
  /** By serviceArg, the claims of each port: two ports may produce one key (an external IP that is a node address, at another port's NodePort); the first port id wins. */
  private readonly servers = new Map<string, Map<string, VirtualServer>>();
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
      let claims = this.servers.get(key);
      if (!claims) this.servers.set(key, (claims = new Map()));
      claims.set(c.id, vs);
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
      const claims = this.servers.get(key);
      if (!claims) continue;
      claims.delete(c.id);
      if (claims.size === 0) this.servers.delete(key);
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

  /** The virtual server that holds key `key` now, if any. */
  virtualServer(key: string): VirtualServer | undefined {
    const claims = this.servers.get(key);
    if (!claims) return undefined;
    let first: string | undefined;
    for (const id of claims.keys()) if (first === undefined || id < first) first = id;
    return claims.get(first!);
  }

  isBound(family: Family, address: string): boolean {
    return this.addresses.get(family)!.has(address);
  }

  /** The keys of virtual servers and the addresses touched since the last call, and forget them. */
  takeTouched(): { servers: Set<string>; addresses: Set<string> } {
    const out = { servers: this.touchedServers, addresses: this.touchedAddresses };
    this.touchedServers = new Set();
    this.touchedAddresses = new Set();
    return out;
  }

  /** Everything, sorted as the dump prints it. */
  plan(): IpvsPlan {
    const keys = [...this.servers.keys()].sort(compareArgs);
    return {
      tables: FAMILIES.map((f) => this.tables.get(f)!.snapshot()),
      addresses: { ipv4: sortedAddresses(this.addresses.get('ipv4')!), ipv6: sortedAddresses(this.addresses.get('ipv6')!) },
      virtualServers: keys.map((k) => this.virtualServer(k)!),
    };
  }
}

/** Byte order, as `LC_ALL=C sort` orders ipvsadm's lines (see ipvsadm.ts). */
export function compareArgs(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedAddresses(m: Map<string, number>): string[] {
  return [...m.keys()].sort(compareArgs);
}

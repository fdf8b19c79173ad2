// IPVS mode's desired state, kept across syncs as nftables mode keeps its
// tables (nftables/incremental.ts): each sync applies the port decisions that
// changed. What every port depends on (this node's addresses, which decide the
// NodePort virtual servers and what is bound) changes rarely; then every port
// is taken away and added again, and the store records only what really moved.
import type { Config } from '../../config/config.js';
import { FAMILIES, type Family, type ProxyState } from '../../state/types.js';
import type { PolicyChange, PortPolicy } from '../../policy/port-policy.js';
import type { Contribution } from '../nftables/table-store.js';
import { needsFwmark, portIpvsContribution, type FamilyContext, type IpvsContribution } from './contribution.js';
import { baseHelperContribution, familyContext, type HostAddresses } from './family.js';
import { FwmarkAllocator } from './fwmarks.js';
import { IpvsStore } from './store.js';

export interface IpvsUpdate {
  /** The helper tables' nft transaction from the previous state ('' when not asked for). */
  readonly helperPlan: string;
  /** Keys (serviceArg) of the virtual servers and the addresses that may have changed. */
  readonly servers: ReadonlySet<string>;
  readonly addresses: ReadonlySet<string>;
}

export class IncrementalIpvs {
  /** What the kernel should hold; read it between updates. */
  store!: IpvsStore;
  private marks!: FwmarkAllocator;
  private contexts = new Map<Family, { key: string; ctx: FamilyContext; base: Contribution }>();
  /** Every port's decision in the store, to take it away again when the contexts change. */
  private current = new Map<string, PortPolicy>();

  constructor(private readonly cfg: Config) {
    this.reset();
  }

  /** Forget everything: the next update must bring every port again. */
  reset(): void {
    this.store = new IpvsStore();
    this.marks = new FwmarkAllocator(this.cfg);
    this.contexts.clear();
    this.current.clear();
  }

  /** The fixed part is checked every time: host addresses come from the kernel, not with the API's changes. */
  update(state: ProxyState, host: HostAddresses, changes: readonly PolicyChange[], wantPlan = true): IpvsUpdate {
    for (const t of this.store.tables.values()) t.recording = wantPlan;
    // Removals first: an address may move from one service to another in one sync.
    for (const { before } of changes) if (before) this.take(before);
    const changed = new Set(changes.map((c) => c.id));
    for (const f of FAMILIES) {
      const ctx = familyContext(this.cfg, state.node, host, f);
      const helper = baseHelperContribution(state, this.cfg, ctx);
      const key = JSON.stringify([[...ctx.hostAddresses], ctx.nodePortIPs, helper]);
      const old = this.contexts.get(f);
      if (old?.key === key) continue;
      const others = [...this.current.values()].filter((p) => p.sp.family === f && !changed.has(p.sp.id));
      for (const p of others) this.take(p);
      if (old) this.store.removeBase(f, old.base);
      this.store.addBase(f, helper);
      this.contexts.set(f, { key, ctx, base: helper });
      for (const p of others) this.put(p);
    }
    for (const { after } of changes) if (after) this.put(after);
    // Only now: a port that changed keeps its mark.
    for (const { id, after } of changes) if (!after) this.marks.release(id);
    const helperPlan = wantPlan ? FAMILIES.map((f) => this.store.tables.get(f)!.takePlan()).join('') : '';
    for (const t of this.store.tables.values()) t.recording = true;
    const touched = this.store.takeTouched();
    return { helperPlan, servers: touched.servers, addresses: touched.addresses };
  }

  private contribution(p: PortPolicy): IpvsContribution {
    const mark = needsFwmark(p) ? this.marks.acquire(p.sp.id) : undefined;
    return portIpvsContribution(p, this.cfg, this.contexts.get(p.sp.family)!.ctx, mark);
  }

  private put(p: PortPolicy): void {
    this.store.add(this.contribution(p));
    this.current.set(p.sp.id, p);
  }

  private take(p: PortPolicy): void {
    this.store.remove(this.contribution(p));
    this.current.delete(p.sp.id);
  }
}

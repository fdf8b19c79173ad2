// IPVS mode's desired state, kept across syncs as nftables mode keeps its
// tables (nftables/incremental.ts): each sync applies the port decisions that
// changed, and a port's contribution is derived again from its decision when
// it is needed. What every port depends on (this node's addresses, which
// decide the NodePort virtual servers and what is bound) changes rarely; then
// every port is taken away and added again, and only what really moved is
// reported.
import type { Config } from '../../config/config.js';
import { FAMILIES, type Family, type ProxyState } from '../../state/types.js';
import type { PolicyChange, PortPolicy } from '../../policy/port-policy.js';
import { familyNames } from '../nftables/layout.js';
import { tableOf, type Contribution } from '../nftables/desired.js';
import { scriptLines, type RenderMode, type TableSource } from '../nftables/render.js';
import { needsFwmark, portIpvsContribution, type FamilyContext, type IpvsContribution } from './contribution.js';
import { baseHelperContribution, familyContext, type HostAddresses } from './family.js';
import { FwmarkAllocator } from './fwmarks.js';
import { serviceArg, type IpvsPlan, type VirtualServer } from './model.js';
import { compareArgs, IpvsStore } from './store.js';
import type { TableStore } from '../nftables/table-store.js';
import type { VirtualServerIndex } from './lookup.js';

export interface IpvsUpdate {
  /** The helper tables' nft transaction from the previous state ('' when not asked for). */
  readonly helperPlan: string;
  /** Keys (serviceArg) of the virtual servers and the addresses that may have changed. */
  readonly servers: ReadonlySet<string>;
  readonly addresses: ReadonlySet<string>;
}

export class IncrementalIpvs implements VirtualServerIndex {
  /** What the kernel should hold; read it between updates. */
  store!: IpvsStore;
  private marks!: FwmarkAllocator;
  private contexts = new Map<Family, { key: string; ctx: FamilyContext; base: Contribution }>();
  /** Every port's decision in the store: its contribution is derived from it when needed. */
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
      const base = baseHelperContribution(state, this.cfg, ctx);
      const key = JSON.stringify([[...ctx.hostAddresses], ctx.nodePortIPs, base]);
      const old = this.contexts.get(f);
      if (old?.key === key) continue;
      const others = [...this.current.values()].filter((p) => p.sp.family === f && !changed.has(p.sp.id));
      for (const p of others) this.take(p);
      if (old) this.store.removeBase(f, old.base);
      this.store.addBase(f, base);
      this.contexts.set(f, { key, ctx, base });
      for (const p of others) this.put(p);
    }
    for (const { after } of changes) if (after) this.put(after);
    // Only now: a port that changed keeps its mark.
    for (const { id, after } of changes) if (!after) this.marks.release(id);
    const helperPlan = wantPlan ? FAMILIES.map((f) => this.store.tables.get(f)!.takePlan().script).join('') : '';
    for (const t of this.store.tables.values()) t.recording = true;
    const touched = this.store.takeTouched();
    return { helperPlan, servers: touched.servers, addresses: touched.addresses };
  }

  /** The virtual server `key` should be, or undefined for none. */
  virtualServer(key: string): VirtualServer | undefined {
    const id = this.store.claimant(key);
    const p = id === undefined ? undefined : this.current.get(id);
    return p && this.contribution(p).virtualServers.find((vs) => serviceArg(vs) === key);
  }

  /** The helper tables' chains with their rule counts, and their sets: what the kernel should show of them. */
  shapes(): ReturnType<TableStore['shape']>[] {
    return FAMILIES.map((f) => this.store.tables.get(f)!.shape());
  }

  /** The helper tables as a script, line by line; their elements derived again as it is written. */
  helperScript(mode: RenderMode): Generator<string> {
    return scriptLines(FAMILIES.map((f) => this.helperSource(f)), mode);
  }

  /** Everything at once (dump, tests), sorted as the dump prints it. */
  plan(): IpvsPlan {
    const keys = [...this.store.serverKeys()].sort(compareArgs);
    return {
      tables: FAMILIES.map((f) => tableOf(familyNames(f).nft, this.contributions(f))),
      addresses: this.store.boundAddresses(),
      virtualServers: keys.map((k) => this.virtualServer(k)!),
    };
  }

  /** The firewall mark of the port's short-circuit virtual server, when it has one. */
  fwmark(id: string): number | undefined {
    const p = this.current.get(id);
    return p && this.contribution(p).virtualServers.find((vs) => vs.fwmark !== undefined)?.fwmark;
  }

  nodePortIPs(f: Family): readonly string[] {
    return this.contexts.get(f)?.ctx.nodePortIPs ?? [];
  }

  private *contributions(f: Family): Generator<Contribution> {
    const base = this.contexts.get(f)?.base;
    if (base) yield base;
    for (const p of this.current.values()) if (p.sp.family === f) yield this.contribution(p).helper;
  }

  private helperSource(f: Family): TableSource {
    const store = this.store.tables.get(f)!;
    const { sets, chains } = store.declarations();
    const contributions = () => this.contributions(f);
    return {
      family: store.family, sets, chains,
      *elementGroups() {
        for (const c of contributions()) yield store.ownElements(c);
        yield [...store.sharedElements()];
      },
    };
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

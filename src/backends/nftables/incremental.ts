// The agent's tables, kept across syncs: each sync re-contributes only the
// service ports whose policy changed, so its plan costs what changed.
import type { Config } from '../../config/config.js';
import { FAMILIES, type Family, type ProxyState } from '../../state/types.js';
import type { PortPolicy } from '../../policy/port-policy.js';
import { baseContribution, portContribution } from './desired.js';
import { familyNames } from './layout.js';
import { TableStore, type Contribution } from './table-store.js';
import type { NftTable } from './model.js';

export class IncrementalTables {
  private stores = new Map<Family, TableStore>();
  private bases = new Map<Family, { key: string; c: Contribution }>();
  private ports = new Map<string, { policy: PortPolicy; c: Contribution }>();

  constructor() {
    this.reset();
  }

  /** Forget everything: the next update contributes the whole cluster again. */
  reset(): void {
    this.stores = new Map(FAMILIES.map((f) => [f, new TableStore(familyNames(f).nft)]));
    this.bases.clear();
    this.ports.clear();
  }

  /**
   * Move to this state; returns the transaction from the previous one (policies
   * unchanged by identity cost nothing), or '' without planning when wantPlan is false.
   */
  update(state: ProxyState, cfg: Config, policies: readonly PortPolicy[], wantPlan = true): string {
    for (const f of FAMILIES) {
      const c = baseContribution(state, cfg, f);
      const key = JSON.stringify(c);
      const old = this.bases.get(f);
      if (old?.key === key) continue;
      if (old) this.stores.get(f)!.remove(old.c);
      this.stores.get(f)!.add(c);
      this.bases.set(f, { key, c });
    }
    const next = new Map(policies.map((p) => [p.sp.id, p]));
    const added: PortPolicy[] = [];
    // Removals first: an address may move from one service to another in one sync.
    for (const [id, cur] of this.ports) {
      const p = next.get(id);
      if (p === cur.policy) continue;
      this.stores.get(cur.policy.sp.family)!.remove(cur.c);
      this.ports.delete(id);
    }
    for (const p of policies) if (!this.ports.has(p.sp.id)) added.push(p);
    for (const p of added) {
      const c = portContribution(p);
      this.stores.get(p.sp.family)!.add(c);
      this.ports.set(p.sp.id, { policy: p, c });
    }
    return FAMILIES.map((f) => this.stores.get(f)!.takePlan(wantPlan)).join('');
  }

  /** The whole tables, for a full render. */
  tables(): NftTable[] {
    return FAMILIES.map((f) => this.stores.get(f)!.snapshot());
  }
}

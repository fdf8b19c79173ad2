// The agent's tables, kept across syncs: each sync applies only the port
// decisions that changed, so its plan costs what changed. A port's old
// contribution is derived again from its old decision (contributions are pure),
// rather than kept: at scale that bookkeeping would cost more than the tables.
import type { Config } from '../../config/config.js';
import { FAMILIES, type Family, type ProxyState } from '../../state/types.js';
import type { PolicyChange } from '../../policy/port-policy.js';
import { baseContribution, portContribution } from './desired.js';
import { familyNames } from './layout.js';
import { TableStore, type Contribution } from './table-store.js';
import type { NftTable } from './model.js';

export class IncrementalTables {
  private stores = new Map<Family, TableStore>();
  private bases = new Map<Family, { key: string; c: Contribution }>();

  constructor() {
    this.reset();
  }

  /** Forget everything: the next update must bring every port again. */
  reset(): void {
    this.stores = new Map(FAMILIES.map((f) => [f, new TableStore(familyNames(f).nft)]));
    this.bases.clear();
  }

  /**
   * Apply these decision changes (and the fixed part, when `base` says it may
   * have changed); returns the transaction from the previous tables, or ''
   * without planning when wantPlan is false.
   */
  update(state: ProxyState, cfg: Config, changes: readonly PolicyChange[], base: boolean, wantPlan = true): string {
    for (const store of this.stores.values()) store.recording = wantPlan;
    for (const f of FAMILIES) {
      if (!base && this.bases.has(f)) continue;
      const c = baseContribution(state, cfg, f);
      const key = JSON.stringify(c);
      const old = this.bases.get(f);
      if (old?.key === key) continue;
      if (old) this.stores.get(f)!.remove(old.c);
      this.stores.get(f)!.add(c);
      this.bases.set(f, { key, c });
    }
    // Removals first: an address may move from one service to another in one sync.
    for (const { before } of changes) if (before) this.stores.get(before.sp.family)!.remove(portContribution(before));
    for (const { after } of changes) if (after) this.stores.get(after.sp.family)!.add(portContribution(after));
    const plan = wantPlan ? FAMILIES.map((f) => this.stores.get(f)!.takePlan()).join('') : '';
    for (const store of this.stores.values()) store.recording = true;
    return plan;
  }

  /** The whole tables, for a full render. */
  tables(): NftTable[] {
    return FAMILIES.map((f) => this.stores.get(f)!.snapshot());
  }
}

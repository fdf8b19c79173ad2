// The agent's tables, kept across syncs: each sync applies only the port
// decisions that changed, so its plan costs what changed. A port's
// contribution is derived again from its decision whenever it is needed (to
// take it out, or to write the whole table), rather than kept: at scale that
// bookkeeping would cost more than the decisions themselves.
import type { Config } from '../../config/config.js';
import { FAMILIES, type Family, type ProxyState } from '../../state/types.js';
import type { PolicyChange, PortPolicy } from '../../policy/port-policy.js';
import { baseContribution, portContribution, type Contribution } from './desired.js';
import { familyNames } from './layout.js';
import type { Plan } from './plan.js';
import { scriptLines, type RenderMode, type TableSource } from './render.js';
import { TableStore } from './table-store.js';

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
   * have changed); returns the transaction from the previous tables, or an
   * empty one without planning when wantPlan is false.
   */
  update(state: ProxyState, cfg: Config, changes: readonly PolicyChange[], base: boolean, wantPlan = true): Plan {
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
    // Removals first: an address may move from one service to another in one sync. Without a
    // plan (a whole script follows, which derives every element again) only what the store keeps is derived.
    for (const { before } of changes) if (before) this.stores.get(before.sp.family)!.remove(portContribution(before, !wantPlan));
    for (const { after } of changes) if (after) this.stores.get(after.sp.family)!.add(portContribution(after, !wantPlan));
    const plans = wantPlan ? FAMILIES.map((f) => this.stores.get(f)!.takePlan()) : [];
    for (const store of this.stores.values()) store.recording = true;
    const elements = plans.every((p) => p.elements) ? plans.flatMap((p) => p.elements!) : undefined;
    return { script: plans.map((p) => p.script).join(''), elements };
  }

  /**
   * A periodic reassert that carries this sync's changes (`plan`, from
   * update()): the plan first, since only it writes the rules of a
   * load-balancing chain that is new (an endpoint count not served before),
   * and a reassert leaves those chains' rules alone; then every object put
   * back as it should be. One transaction.
   */
  *reassert(plan: Plan, policies: () => Iterable<PortPolicy>, mode: 'reassert' | 'reassert-rules'): Generator<string> {
    for (const line of plan.script.split('\n')) if (line !== '') yield line;
    yield* this.script(policies, mode);
  }

  /**
   * The whole tables as a script, line by line, for `policies` (the decisions
   * this object was last updated with): their elements are derived again, as
   * the script is written, and never held together.
   */
  script(policies: () => Iterable<PortPolicy>, mode: RenderMode): Generator<string> {
    return scriptLines(this.sources(policies), mode);
  }

  /** Each family's table as a source whose elements are derived again, from `policies`, as they are read. */
  sources(policies: () => Iterable<PortPolicy>): TableSource[] {
    return FAMILIES.map((f) => this.source(f, policies));
  }

  /** Each table's chains with their rule counts, and its sets: what the kernel should show of them. */
  shapes(): ReturnType<TableStore['shape']>[] {
    return FAMILIES.map((f) => this.stores.get(f)!.shape());
  }

  private source(f: Family, policies: () => Iterable<PortPolicy>): TableSource {
    const store = this.stores.get(f)!;
    const { sets, chains } = store.declarations();
    const base = this.bases.get(f)?.c;
    return {
      family: store.family, sets, chains,
      *elementGroups() {
        if (base) yield store.ownElements(base);
        for (const p of policies()) if (p.sp.family === f) yield store.ownElements(portContribution(p));
        yield [...store.sharedElements()];
      },
    };
  }
}

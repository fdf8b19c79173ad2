// The agent's table as the sum of contributions (one per service port, plus
// the fixed part), kept lean: declarations and chains with reference counts,
// and elements only where contributions share them (a ClusterIP of several
// ports, a hairpin pair), also counted. Every other element belongs to exactly
// one contribution, so it is known from that contribution's decision and not
// stored: at 10k services that is 200k+ elements the agent need not hold.
// Rules contributions add to a shared chain are counted too.
// Records what an update touched, so the plan for it costs what changed.
import { plan, type Plan } from './plan.js';
import { SHARED_SETS } from './layout.js';
import type { Contribution } from './desired.js';
import { withAddedRules, type Chain, type NftFamily, type NftTable } from './model.js';

interface Counted<T> { value: T; refs: number }

/** An element's value before and after the current round of changes (undefined: absent). */
interface Touch { before: string | undefined; after: string | undefined }

export class TableStore {
  private readonly sets = new Map<string, Counted<string>>();
  private readonly chains = new Map<string, Counted<Chain>>();
  /** Chain -> rule added to it -> the contributions adding it. */
  private readonly addedRules = new Map<string, Map<string, number>>();
  private readonly shared: Map<string, Map<string, number>>;
  /** Off while a table is filled for a full render: nothing to plan, so nothing to remember. */
  recording = true;
  // What each touched object was before the current round of changes (undefined: absent).
  private touchedSets = new Map<string, string | undefined>();
  private touchedChains = new Map<string, Chain | undefined>();
  private touchedElements = new Map<string, Map<string, Touch>>();

  /** `sharedSets`: the sets whose elements several contributions may give (IPVS mode's helper table has its own). */
  constructor(readonly family: NftFamily, sharedSets: readonly string[] = SHARED_SETS) {
    this.shared = new Map(sharedSets.map((s) => [s, new Map()]));
  }

  add(c: Contribution): void {
    for (const [name, decl] of c.sets) this.count(this.sets, name, decl, 1, this.touchSet);
    for (const [name, chain] of c.chains) this.count(this.chains, name, chain, 1, this.touchChain);
    for (const [chain, rule] of c.rules) this.rule(chain, rule, 1);
    for (const [set, key, value] of c.elements) this.element(set, key, value, 1);
  }

  remove(c: Contribution): void {
    for (const [set, key, value] of c.elements) this.element(set, key, value, -1);
    for (const [chain, rule] of c.rules) this.rule(chain, rule, -1);
    for (const [name, chain] of c.chains) this.count(this.chains, name, chain, -1, this.touchChain);
    for (const [name, decl] of c.sets) this.count(this.sets, name, decl, -1, this.touchSet);
  }

  /** The declarations and chains now, in the order they first appeared. */
  declarations(): { sets: [string, string][]; chains: [string, Chain][] } {
    return { sets: [...this.sets].map(([k, v]) => [k, v.value]), chains: [...this.chains.keys()].map((k) => [k, this.chain(k)!]) };
  }

  /** Its chains with their rule counts, and its sets: what the kernel should show of the table. */
  shape(): { family: NftFamily; chains: Map<string, number>; sets: string[] } {
    return { family: this.family, chains: new Map([...this.chains.keys()].map((name) => [name, this.chain(name)!.rules.length])), sets: [...this.sets.keys()] };
  }

  /** The elements `c` alone gives: those of every set but the shared ones (which sharedElements gives). */
  ownElements(c: Contribution): Contribution['elements'] {
    return c.elements.filter(([set]) => !this.shared.has(set));
  }

  /** The elements of the shared sets (the others come from their contributions). */
  *sharedElements(): Generator<[set: string, key: string, value: string]> {
    for (const [set, keys] of this.shared) if (this.sets.has(set)) for (const key of keys.keys()) yield [set, key, ''];
  }

  /** The transaction for everything changed since the last call (plan.ts's ordering), and forget it. */
  takePlan(): Plan {
    const before: NftTable = { family: this.family, sets: new Map(), chains: new Map(), elements: new Map() };
    const after: NftTable = { family: this.family, sets: new Map(), chains: new Map(), elements: new Map() };
    const bSets = before.sets as Map<string, string>, aSets = after.sets as Map<string, string>;
    // Sets untouched but holding touched elements appear unchanged on both sides.
    for (const set of this.touchedElements.keys()) {
      const decl = this.sets.get(set)?.value ?? this.touchedSets.get(set);
      if (decl !== undefined && !this.touchedSets.has(set)) {
        bSets.set(set, decl);
        aSets.set(set, decl);
      }
    }
    for (const [name, was] of this.touchedSets) {
      if (was !== undefined) bSets.set(name, was);
      const now = this.sets.get(name)?.value;
      if (now !== undefined) aSets.set(name, now);
    }
    for (const [name, was] of this.touchedChains) {
      if (was !== undefined) (before.chains as Map<string, Chain>).set(name, was);
      const now = this.chain(name);
      if (now !== undefined) (after.chains as Map<string, Chain>).set(name, now);
    }
    for (const [set, keys] of this.touchedElements) {
      const b = new Map<string, string>(), a = new Map<string, string>();
      for (const [key, t] of keys) {
        if (t.before !== undefined) b.set(key, t.before);
        if (t.after !== undefined) a.set(key, t.after);
      }
      if (bSets.has(set)) (before.elements as Map<string, Map<string, string>>).set(set, b);
      if (aSets.has(set)) (after.elements as Map<string, Map<string, string>>).set(set, a);
    }
    this.touchedSets = new Map();
    this.touchedChains = new Map();
    this.touchedElements = new Map();
    return plan([before], [after]);
  }

  /** A chain as the kernel should hold it: its own rules and those added to it. */
  private chain(name: string): Chain | undefined {
    const c = this.chains.get(name)?.value;
    const added = this.addedRules.get(name);
    return c && added ? withAddedRules(c, added.keys()) : c;
  }

  // Each remembers what an object was before the current round of changes.
  private readonly touchSet = (name: string): void => {
    if (this.recording && !this.touchedSets.has(name)) this.touchedSets.set(name, this.sets.get(name)?.value);
  };

  private readonly touchChain = (name: string): void => {
    if (this.recording && !this.touchedChains.has(name)) this.touchedChains.set(name, this.chain(name));
  };

  private count<T>(store: Map<string, Counted<T>>, name: string, value: T, delta: 1 | -1, touch: (name: string) => void): void {
    touch(name);
    const cur = store.get(name);
    if (delta > 0) {
      if (cur) cur.refs++;
      else store.set(name, { value, refs: 1 });
    } else if (cur && --cur.refs === 0) {
      store.delete(name);
    }
  }

  /** Only the first contribution adding a rule and the last one taking it out change its chain. */
  private rule(chain: string, rule: string, delta: 1 | -1): void {
    let rules = this.addedRules.get(chain);
    if (!rules) this.addedRules.set(chain, (rules = new Map()));
    const n = (rules.get(rule) ?? 0) + delta;
    if (n === (delta > 0 ? 1 : 0)) this.touchChain(chain);
    if (n > 0) rules.set(rule, n);
    else rules.delete(rule);
    if (rules.size === 0) this.addedRules.delete(chain);
  }

  /** A shared element counts its contributions; any other comes and goes with its one contribution. */
  private element(set: string, key: string, value: string, delta: 1 | -1): void {
    const counts = this.shared.get(set);
    if (counts) {
      const n = (counts.get(key) ?? 0) + delta;
      if (n > 0) counts.set(key, n);
      else counts.delete(key);
      // Only the first contribution in and the last one out change the kernel.
      if (n === (delta > 0 ? 1 : 0)) this.touch(set, key, value, delta);
      return;
    }
    this.touch(set, key, value, delta);
  }

  private touch(set: string, key: string, value: string, delta: 1 | -1): void {
    if (!this.recording) return;
    let keys = this.touchedElements.get(set);
    if (!keys) this.touchedElements.set(set, (keys = new Map()));
    const t = keys.get(key);
    if (delta < 0) {
      if (t) t.after = undefined;
      else keys.set(key, { before: value, after: undefined });
      return;
    }
    if (t?.after !== undefined) throw new Error(`element ${key} of ${set} claimed twice: ${t.after} and ${value}`);
    if (t) t.after = value;
    else keys.set(key, { before: undefined, after: value });
  }
}

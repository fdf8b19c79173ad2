// A table as the sum of contributions (one per service port, plus the fixed
// part), with reference counts: shared elements (hairpin pairs, a ClusterIP
// of several ports) and shared chains live while anyone contributes them.
// Records what an update touched, so the plan for it costs what changed,
// not the size of the table.
import { planTables } from './plan.js';
import type { Chain, NftFamily, NftTable } from './model.js';

export interface Contribution {
  readonly elements: readonly (readonly [set: string, key: string, value: string])[];
  readonly sets: readonly (readonly [name: string, decl: string])[];
  readonly chains: readonly (readonly [name: string, chain: Chain])[];
}

interface Counted<T> { value: T; refs: number }

export class TableStore {
  private readonly sets = new Map<string, Counted<string>>();
  private readonly chains = new Map<string, Counted<Chain>>();
  // Elements by set: their values, and the extra references of the few that are shared
  // (a count object per element would cost more than the element at 100k+ of them).
  private readonly elements = new Map<string, Map<string, string>>();
  private readonly sharedRefs = new Map<string, Map<string, number>>();
  /** Off while a table is filled for a full render: nothing to plan, so nothing to remember. */
  recording = true;
  // What each touched object was before the current round of changes (undefined: absent).
  private touchedSets = new Map<string, string | undefined>();
  private touchedChains = new Map<string, Chain | undefined>();
  private touchedElements = new Map<string, Map<string, string | undefined>>();

  constructor(readonly family: NftFamily) {}

  add(c: Contribution): void {
    for (const [name, decl] of c.sets) this.count(this.sets, name, decl, 1, this.touchedSets);
    for (const [name, chain] of c.chains) this.count(this.chains, name, chain, 1, this.touchedChains);
    for (const [set, key, value] of c.elements) this.countElement(set, key, value, 1);
  }

  remove(c: Contribution): void {
    for (const [set, key, value] of c.elements) this.countElement(set, key, value, -1);
    for (const [name, chain] of c.chains) this.count(this.chains, name, chain, -1, this.touchedChains);
    for (const [name, decl] of c.sets) this.count(this.sets, name, decl, -1, this.touchedSets);
  }

  /** The whole table, as render() takes it: a view of the store, to be read before it changes again. */
  snapshot(): NftTable {
    const elements = new Map<string, ReadonlyMap<string, string>>();
    for (const name of this.sets.keys()) elements.set(name, this.elements.get(name) ?? new Map());
    return {
      family: this.family,
      sets: new Map([...this.sets].map(([k, v]) => [k, v.value])),
      chains: new Map([...this.chains].map(([k, v]) => [k, v.value])),
      elements,
    };
  }

  /** The transaction for everything changed since the last call (plan.ts's ordering), and forget it. */
  takePlan(): string {
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
      const now = this.chains.get(name)?.value;
      if (now !== undefined) (after.chains as Map<string, Chain>).set(name, now);
    }
    for (const [set, keys] of this.touchedElements) {
      const b = new Map<string, string>(), a = new Map<string, string>();
      for (const [key, was] of keys) {
        if (was !== undefined) b.set(key, was);
        const now = this.elements.get(set)?.get(key);
        if (now !== undefined) a.set(key, now);
      }
      if (bSets.has(set)) (before.elements as Map<string, Map<string, string>>).set(set, b);
      if (aSets.has(set)) (after.elements as Map<string, Map<string, string>>).set(set, a);
    }
    this.forgetChanges();
    return planTables([before], [after]);
  }

  private forgetChanges(): void {
    this.touchedSets = new Map();
    this.touchedChains = new Map();
    this.touchedElements = new Map();
  }

  private count<T>(store: Map<string, Counted<T>>, name: string, value: T, delta: 1 | -1, touched: Map<string, T | undefined>): void {
    const cur = store.get(name);
    if (this.recording && !touched.has(name)) touched.set(name, cur?.value);
    if (delta > 0) {
      if (cur) cur.refs++;
      else store.set(name, { value, refs: 1 });
    } else if (cur && --cur.refs === 0) {
      store.delete(name);
    }
  }

  private countElement(set: string, key: string, value: string, delta: 1 | -1): void {
    let elems = this.elements.get(set);
    if (!elems) this.elements.set(set, (elems = new Map()));
    const cur = elems.get(key);
    if (this.recording) {
      let touched = this.touchedElements.get(set);
      if (!touched) this.touchedElements.set(set, (touched = new Map()));
      if (!touched.has(key)) touched.set(key, cur);
    }
    let shared = this.sharedRefs.get(set);
    if (delta > 0) {
      if (cur === undefined) elems.set(key, value);
      else if (cur !== value) throw new Error(`element ${key} of ${set} claimed with two values: ${cur} and ${value}`);
      else {
        if (!shared) this.sharedRefs.set(set, (shared = new Map()));
        shared.set(key, (shared.get(key) ?? 0) + 1);
      }
    } else if (cur !== undefined) {
      const extra = shared?.get(key) ?? 0;
      if (extra === 0) elems.delete(key);
      else if (extra === 1) shared!.delete(key);
      else shared!.set(key, extra - 1);
    }
  }
}

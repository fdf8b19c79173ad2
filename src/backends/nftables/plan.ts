// The smallest transaction from one table state to another: changed
// elements, and the rare chain that appears, changes or goes.
// Contract: render(A) then plan(A, B) leaves the kernel as render(B) does.
import { addChain, addSet, pushElements, setKind } from './render.js';
import { elementText, TABLE, type Chain, type NftFamily, type NftTable } from './model.js';

/** Elements of one set to delete (by key) or add (key, stored value). */
export interface ElementChange {
  readonly verb: 'add' | 'delete';
  readonly family: NftFamily;
  readonly set: string;
  /** The set's declaration: what its elements are made of. */
  readonly decl: string;
  readonly elements: readonly (readonly [key: string, value: string])[];
}

export interface Plan {
  /** The transaction as an nft script ('' when nothing changed). */
  readonly script: string;
  /** When it changes set elements only: the same changes, deletions first. */
  readonly elements: readonly ElementChange[] | undefined;
}

export function planTables(prev: readonly NftTable[], next: readonly NftTable[]): string {
  return plan(prev, next).script;
}

export function plan(prev: readonly NftTable[], next: readonly NftTable[]): Plan {
  const out: string[] = [];
  const changes: ElementChange[] = [];
  let elementsOnly = true;
  for (const n of next) {
    const p = prev.find((t) => t.family === n.family);
    if (!p) throw new Error(`no previous ${n.family} table to plan from`);
    elementsOnly = planTable(p, n, out, changes) && elementsOnly;
  }
  return { script: out.length === 0 ? '' : out.join('\n') + '\n', elements: elementsOnly ? changes : undefined };
}

/** Appends the transaction's lines to `out` and its element changes to `changes`; whether it changes elements only. */
function planTable(prev: NftTable, next: NftTable, out: string[], changes: ElementChange[]): boolean {
  const tbl = `${next.family} ${TABLE}`;
  const structural = out.length;
  // New sets and chains first, so new elements and rules may point at them.
  for (const [name, decl] of next.sets) {
    const old = prev.sets.get(name);
    if (old === undefined) out.push(addSet(tbl, name, decl));
    else if (old !== decl) throw new Error(`set ${name} changed its declaration; a full render is needed`);
  }
  const added = [...next.chains].filter(([name]) => !prev.chains.has(name));
  for (const [name, c] of added) out.push(addChain(tbl, name, c.base));
  for (const [name, c] of added) for (const r of c.rules) out.push(`add rule ${tbl} ${name} ${r}`);
  for (const [name, c] of next.chains) {
    const old = prev.chains.get(name);
    if (old && !sameChain(old, c)) {
      if (old.base !== c.base) throw new Error(`base chain ${name} changed its hook; a full render is needed`);
      out.push(`flush chain ${tbl} ${name}`, ...c.rules.map((r) => `add rule ${tbl} ${name} ${r}`));
    }
  }
  const chainsAndSets = out.length > structural;
  // Deletions before additions: a changed value is a delete plus an add.
  // Plain loops: at scale these visit every element, and must not copy them.
  for (const [set, elems] of prev.elements) {
    const now = next.elements.get(set);
    if (!now) continue;
    const gone: [string, string][] = [];
    for (const [k, v] of elems) if (now.get(k) !== v) gone.push([k, v]);
    if (gone.length === 0) continue;
    pushElements(out, 'delete', tbl, set, gone.map(([k]) => k));
    changes.push({ verb: 'delete', family: next.family, set, decl: next.sets.get(set) ?? '', elements: gone });
  }
  for (const [set, elems] of next.elements) {
    const was = prev.elements.get(set);
    const added: [string, string][] = [];
    for (const [k, v] of elems) if (was?.get(k) !== v) added.push([k, v]);
    if (added.length === 0) continue;
    pushElements(out, 'add', tbl, set, added.map(([k, v]) => elementText(k, v)));
    changes.push({ verb: 'add', family: next.family, set, decl: next.sets.get(set) ?? '', elements: added });
  }
  const before = out.length;
  // Last: nothing references a chain whose elements and rules are gone.
  const gone = [...prev.chains.keys()].filter((name) => !next.chains.has(name));
  for (const name of gone) out.push(`flush chain ${tbl} ${name}`);
  for (const name of gone) out.push(`delete chain ${tbl} ${name}`);
  // And then the sets only those chains used (deleting a set drops its elements).
  for (const [name, decl] of prev.sets) if (!next.sets.has(name)) out.push(`delete ${setKind(decl)} ${tbl} ${name}`);
  return !chainsAndSets && out.length === before;
}

function sameChain(a: Chain, b: Chain): boolean {
  return a.base === b.base && a.rules.length === b.rules.length && a.rules.every((r, i) => r === b.rules[i]);
}

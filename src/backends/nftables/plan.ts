// The smallest transaction from one table state to another: changed
// elements, and the rare chain that appears, changes or goes.
// Contract: render(A) then plan(A, B) leaves the kernel as render(B) does.
import { addChain, addSet, pushElements, setKind } from './render.js';
import { elementText, TABLE, type Chain, type NftTable } from './model.js';

export function planTables(prev: readonly NftTable[], next: readonly NftTable[]): string {
  const out: string[] = [];
  for (const n of next) {
    const p = prev.find((t) => t.family === n.family);
    if (!p) throw new Error(`no previous ${n.family} table to plan from`);
    planTable(p, n, out);
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

function planTable(prev: NftTable, next: NftTable, out: string[]): void {
  const tbl = `${next.family} ${TABLE}`;
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
  // Deletions before additions: a changed value is a delete plus an add.
  // Plain loops: at scale these visit every element, and must not copy them.
  for (const [set, elems] of prev.elements) {
    const now = next.elements.get(set);
    if (!now) continue;
    const gone: string[] = [];
    for (const [k, v] of elems) if (now.get(k) !== v) gone.push(k);
    pushElements(out, 'delete', tbl, set, gone);
  }
  for (const [set, elems] of next.elements) {
    const was = prev.elements.get(set);
    const added: string[] = [];
    for (const [k, v] of elems) if (was?.get(k) !== v) added.push(elementText(k, v));
    pushElements(out, 'add', tbl, set, added);
  }
  // Last: nothing references a chain whose elements and rules are gone.
  const gone = [...prev.chains.keys()].filter((name) => !next.chains.has(name));
  for (const name of gone) out.push(`flush chain ${tbl} ${name}`);
  for (const name of gone) out.push(`delete chain ${tbl} ${name}`);
  // And then the sets only those chains used (deleting a set drops its elements).
  for (const [name, decl] of prev.sets) if (!next.sets.has(name)) out.push(`delete ${setKind(decl)} ${tbl} ${name}`);
}

function sameChain(a: Chain, b: Chain): boolean {
  return a.base === b.base && a.rules.length === b.rules.length && a.rules.every((r, i) => r === b.rules[i]);
}

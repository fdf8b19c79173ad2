// A full nft script: creates the table, or replaces an existing one in the
// same atomic transaction ("add" first so "delete" cannot fail).
import { elementText, TABLE, type NftTable } from './model.js';

/** Elements per "add element" command: keeps each command's netlink batch modest. */
const ELEMENTS_PER_COMMAND = 1000;

export function renderTables(tables: readonly NftTable[]): string {
  const out: string[] = [];
  for (const t of tables) renderTable(t, out, 'replace');
  return out.join('\n') + '\n';
}

/**
 * Puts every object back as it should be without replacing the table, so
 * packet-filled sets (client affinity) survive: for a periodic resync that
 * repairs what someone else changed in our table. With scope 'rules', only
 * declarations, chains and rules: a cost that does not grow with the cluster.
 */
export function renderReassert(tables: readonly NftTable[], scope: 'everything' | 'rules' = 'everything'): string {
  const out: string[] = [];
  for (const t of tables) renderTable(t, out, scope === 'everything' ? 'reassert' : 'reassert-rules');
  return out.join('\n') + '\n';
}

function renderTable(t: NftTable, out: string[], mode: 'replace' | 'reassert' | 'reassert-rules'): void {
  const tbl = `${t.family} ${TABLE}`;
  out.push(`add table ${tbl}`);
  if (mode === 'replace') out.push(`delete table ${tbl}`, `add table ${tbl} { comment "rules for svcrouter" ; }`);
  for (const [name, decl] of t.sets) {
    out.push(addSet(tbl, name, decl));
    if (mode === 'reassert' && !decl.includes('dynamic')) out.push(`flush ${setKind(decl)} ${tbl} ${name}`);
  }
  // Chains before rules: rules jump between chains in any order.
  for (const [name, c] of t.chains) out.push(addChain(tbl, name, c.base));
  // A reassert leaves load-balancing chains alone: their rules follow from their
  // names, and nft 1.0.6 cannot add a rule using an existing backends map.
  const rewritten = [...t.chains].filter(([, c]) => mode === 'replace' || !c.rules.some(usesBackendsMap));
  if (mode !== 'replace') for (const [name] of rewritten) out.push(`flush chain ${tbl} ${name}`);
  for (const [name, c] of rewritten) for (const r of c.rules) out.push(`add rule ${tbl} ${name} ${r}`);
  if (mode === 'reassert-rules') return;
  for (const [set, elems] of t.elements) pushElements(out, 'add', tbl, set, [...elems].map(([k, v]) => elementText(k, v)));
}

function usesBackendsMap(rule: string): boolean {
  return /map @\S+-backends\b/.test(rule);
}

/** A declaration with data (" : ") is a map. */
export function setKind(decl: string): 'map' | 'set' {
  return decl.includes(' : ') ? 'map' : 'set';
}

export function addSet(tbl: string, name: string, decl: string): string {
  return `add ${setKind(decl)} ${tbl} ${name} { ${decl} }`;
}

export function addChain(tbl: string, name: string, base: string | undefined): string {
  return base ? `add chain ${tbl} ${name} { ${base} }` : `add chain ${tbl} ${name}`;
}

export function pushElements(out: string[], verb: 'add' | 'delete', tbl: string, set: string, items: readonly string[]): void {
  for (let i = 0; i < items.length; i += ELEMENTS_PER_COMMAND) {
    out.push(`${verb} element ${tbl} ${set} { ${items.slice(i, i + ELEMENTS_PER_COMMAND).join(', ')} }`);
  }
}

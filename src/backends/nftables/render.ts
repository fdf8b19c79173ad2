// A full nft script, line by line: it creates the tables, or replaces existing
// ones in the same atomic transaction ("add" first so "delete" cannot fail),
// or reasserts them. Lines are generated, not collected: at scale the script
// is megabytes, and the agent streams it to nft without ever holding it whole.
import { elementText, TABLE, type Chain, type NftFamily, type NftTable } from './model.js';

/** Elements per "add element" command: keeps each command's netlink batch modest. */
const ELEMENTS_PER_COMMAND = 1000;

export type Element = readonly [set: string, key: string, value: string];

/** One family's table as a script needs it: declarations, chains, and every element in any order. */
export interface TableSource {
  readonly family: NftFamily;
  readonly sets: Iterable<readonly [name: string, decl: string]>;
  readonly chains: Iterable<readonly [name: string, chain: Chain]>;
  /**
   * Every element, in groups (a contribution's, say): 200k+ elements at 10k
   * Services, so a generator steps, and a full render is timed, per group.
   */
  elementGroups(): Iterable<readonly Element[]>;
}

/**
 * replace: the tables exactly as given, atomically. reassert: puts every
 * object back as it should be without replacing the table, so packet-filled
 * sets (client affinity) survive, for a periodic resync that repairs what
 * someone else changed in our table. reassert-rules: declarations, chains and
 * rules only: a cost that does not grow with the cluster.
 */
export type RenderMode = 'replace' | 'reassert' | 'reassert-rules';

export function* scriptLines(sources: Iterable<TableSource>, mode: RenderMode): Generator<string> {
  for (const t of sources) yield* tableLines(t, mode);
}

/** The whole script at once, from tables in memory (dump, tests). */
export function renderTables(tables: readonly NftTable[], mode: RenderMode = 'replace'): string {
  return [...scriptLines(tables.map(tableSource), mode)].join('\n') + '\n';
}

/** An in-memory table as a source. */
function tableSource(t: NftTable): TableSource {
  return {
    family: t.family, sets: t.sets, chains: t.chains,
    *elementGroups() {
      for (const [set, elems] of t.elements) yield [...elems].map(([k, v]): Element => [set, k, v]);
    },
  };
}

const TABLE_COMMENT = 'comment "rules for svcrouter" ;';

function* tableLines(t: TableSource, mode: RenderMode): Generator<string> {
  const tbl = `${t.family} ${TABLE}`;
  yield `add table ${tbl}`;
  if (mode === 'replace') yield* [`delete table ${tbl}`, `add table ${tbl} { ${TABLE_COMMENT} }`];
  for (const [name, decl] of t.sets) {
    yield addSet(tbl, name, decl);
    if (mode === 'reassert' && !decl.includes('dynamic')) yield `flush ${setKind(decl)} ${tbl} ${name}`;
  }
  // Chains before rules: rules jump between chains in any order.
  const chains = [...t.chains];
  for (const [name, c] of chains) yield addChain(tbl, name, c.base);
  // A reassert leaves load-balancing chains alone: their rules follow from their
  // names, and nft 1.0.6 cannot add a rule using an existing backends map.
  const rewritten = chains.filter(([, c]) => mode === 'replace' || !c.rules.some(usesBackendsMap));
  if (mode !== 'replace') for (const [name] of rewritten) yield `flush chain ${tbl} ${name}`;
  for (const [name, c] of rewritten) for (const r of c.rules) yield `add rule ${tbl} ${name} ${r}`;
  if (mode === 'reassert-rules') return;
  // Elements arrive in any order; each set's are written a command at a time.
  const pending = new Map<string, string[]>();
  for (const group of t.elementGroups()) {
    for (const [set, key, value] of group) {
      let batch = pending.get(set);
      if (!batch) pending.set(set, (batch = []));
      batch.push(elementText(key, value));
      if (batch.length === ELEMENTS_PER_COMMAND) {
        yield elementCommand('add', tbl, set, batch);
        batch.length = 0;
      }
    }
  }
  for (const [set, batch] of pending) if (batch.length > 0) yield elementCommand('add', tbl, set, batch);
}

/**
 * A table that does not exist yet, without its elements, in two parts.
 * inert: creates it (failing if it exists) with its sets, regular chains and
 * their rules, which no packet reaches. hooks: its base chains and their
 * rules, which make it see traffic.
 */
export function* newTableLines(t: TableSource, part: 'inert' | 'hooks'): Generator<string> {
  const tbl = `${t.family} ${TABLE}`;
  if (part === 'inert') {
    yield `create table ${tbl} { ${TABLE_COMMENT} }`;
    for (const [name, decl] of t.sets) yield addSet(tbl, name, decl);
  }
  const chains = [...t.chains].filter(([, c]) => (c.base !== undefined) === (part === 'hooks'));
  for (const [name, c] of chains) yield addChain(tbl, name, c.base);
  for (const [name, c] of chains) for (const r of c.rules) yield `add rule ${tbl} ${name} ${r}`;
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

function elementCommand(verb: 'add' | 'delete', tbl: string, set: string, items: readonly string[]): string {
  return `${verb} element ${tbl} ${set} { ${items.join(', ')} }`;
}

export function pushElements(out: string[], verb: 'add' | 'delete', tbl: string, set: string, items: readonly string[]): void {
  for (let i = 0; i < items.length; i += ELEMENTS_PER_COMMAND) out.push(elementCommand(verb, tbl, set, items.slice(i, i + ELEMENTS_PER_COMMAND)));
}

// What one svcrouter table holds, as plain data: the unit that render.ts
// prints whole and plan.ts diffs. Keys and values are already nft text.

export type NftFamily = 'ip' | 'ip6';
export const TABLE = 'svcrouter';

export interface Chain {
  /** "type nat hook prerouting priority -100 ; policy accept ;" for base chains. */
  readonly base?: string;
  readonly rules: readonly string[];
}

export interface NftTable {
  readonly family: NftFamily;
  /** Set/map name -> declaration body ("type ... ; flags ... ;"). */
  readonly sets: ReadonlyMap<string, string>;
  readonly chains: ReadonlyMap<string, Chain>;
  /** Set/map name -> element key -> value ("" for plain sets; may carry a comment). */
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

/**
 * A chain with the rules contributions add to it (each load-balancing chain
 * adds its entry to its dispatch chain): after its own rules, each once, in
 * one order whatever order they came in, so that a whole render and the
 * incremental store write the same chain. Ascending endpoint counts: small
 * Services, the common ones, are found first.
 */
export function withAddedRules(chain: Chain, added: Iterable<string>): Chain {
  const rules = [...added].sort(RULE_ORDER.compare);
  return rules.length === 0 ? chain : { ...chain, rules: [...chain.rules, ...rules] };
}

const RULE_ORDER = new Intl.Collator('en', { numeric: true });

/** An element's stored value: its data, and optionally a comment after a tab. */
export function withComment(data: string, comment: string): string {
  return `${data}\t${comment}`;
}

/** An element's stored value as its data ("" for plain sets) and its comment, if any. */
export function splitValue(value: string): { data: string; comment?: string } {
  const tab = value.indexOf('\t');
  return tab < 0 ? { data: value } : { data: value.slice(0, tab), comment: value.slice(tab + 1) };
}

/** A set's element as it is written in `add element`: `key [comment "c"] [: data]`. */
export function elementText(key: string, value: string): string {
  const { data, comment } = splitValue(value);
  const c = comment === undefined ? '' : ` comment "${comment}"`;
  return data === '' ? `${key}${c}` : `${key}${c} : ${data}`;
}

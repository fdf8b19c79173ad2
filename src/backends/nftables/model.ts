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

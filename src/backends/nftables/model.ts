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

/** A set's element as it is written in `add element`: `key [comment "c"] [: data]`. */
export function elementText(key: string, value: string): string {
  const tab = value.indexOf('\t');
  const data = tab < 0 ? value : value.slice(0, tab);
  const comment = tab < 0 ? '' : ` comment "${value.slice(tab + 1)}"`;
  return data === '' ? `${key}${comment}` : `${key}${comment} : ${data}`;
}

// Set elements as nf_tables carries them (an NFTA_LIST_ELEM each): a key, and
// a map's data, is its fields end to end, each in 32-bit registers of its own
// (an address takes 1 or 4), as nft lays them out. Only the field types
// svcrouter's hash sets and maps use are known here: a set of any other kind
// (intervals, whose elements are ranges) is left to nft, and says so by
// having no encoder. This module reads a set's declaration; the text of each
// element is read by C (element-encoder-addon.c): a full load encodes a
// million fields.
import { loadAddon } from '../addon.js';
import type { AttributeWriter } from '../netlink/attributes.js';

/** Field types, by the codes the addon knows them by. */
const FIELD = { ipv4: 1, ipv6: 2, proto: 3, port: 4, number: 5 } as const;
type Field = (typeof FIELD)[keyof typeof FIELD];

interface Addon {
  /** The most bytes it writes for one element (a verdict's chain and a comment at their longest). */
  elementMax: number;
  create(key: Field[], data: 'verdict' | Field[] | null): object;
  element(encoder: object, key: string, data: string, comment: string | null, buf: Buffer, at: number): number;
  key(encoder: object, key: string, buf: Buffer, at: number): number;
}

let addon: Addon | undefined;

/** A field's type by its `type` name or its `typeof` expression. */
function fieldType(spec: string): Field | undefined {
  switch (spec) {
    case 'ipv4_addr': case 'ip daddr': case 'ip saddr': return FIELD.ipv4;
    case 'ipv6_addr': case 'ip6 daddr': case 'ip6 saddr': return FIELD.ipv6;
    case 'inet_proto': case 'meta l4proto': return FIELD.proto;
    case 'inet_service': case 'th dport': case 'th sport': return FIELD.port;
    default: return /^numgen (random|inc) mod \d+( offset \d+)?$/.test(spec) ? FIELD.number : undefined;
  }
}

/** The field types of a concatenation ("ipv4_addr . inet_service"), or undefined if one is unknown. */
function fields(spec: string): Field[] | undefined {
  const types = spec.split(' . ').map(fieldType);
  return types.some((t) => t === undefined) ? undefined : (types as Field[]);
}

/** Writes elements of one set into `w`, each as an NFTA_LIST_ELEM; each throws, having written nothing, when the text is not one of the set's. */
export interface ElementEncoder {
  /** The whole element: key, map data (or '' in a plain set), comment. */
  element(w: AttributeWriter, key: string, data: string, comment: string | undefined): void;
  /** The key alone, which names an element to delete. */
  key(w: AttributeWriter, key: string): void;
}

/**
 * The encoder of a set's elements from its declaration ("type a . b : c ;",
 * "typeof x . y : z ;", flags...), or undefined when it is not a plain hash
 * set or map of known fields.
 */
export function elementEncoder(decl: string): ElementEncoder | undefined {
  const clauses = decl.split(';').map((c) => c.trim()).filter((c) => c !== '');
  const type = /^(type|typeof) (.+)$/.exec(clauses[0] ?? '');
  if (!type || clauses.length > 1) return undefined; // flags (interval, dynamic), sizes, timeouts: nft's
  const [keySpec, dataSpec, ...more] = type[2]!.split(' : ');
  if (more.length > 0) return undefined;
  const key = fields(keySpec!);
  const data = dataSpec === undefined ? null : dataSpec === 'verdict' ? 'verdict' : fields(dataSpec);
  if (!key || data === undefined) return undefined;
  addon ??= loadAddon<Addon>('element-encoder');
  const a = addon;
  const encoder = a.create(key, data);
  const max = a.elementMax; // read once: a property of a native object, per element otherwise
  return {
    element: (w, k, d, comment) => w.external(max, (buf, at) => a.element(encoder, k, d, comment ?? null, buf, at)),
    key: (w, k) => w.external(max, (buf, at) => a.key(encoder, k, buf, at)),
  };
}

const encoders = new Map<string, ElementEncoder | undefined>();

/** elementEncoder, made once per declaration. */
export function encoderFor(decl: string): ElementEncoder | undefined {
  if (!encoders.has(decl)) encoders.set(decl, elementEncoder(decl));
  return encoders.get(decl);
}

// Set elements as nf_tables carries them (an NFTA_LIST_ELEM each): a key, and
// a map's data, is its fields end to end, each in 32-bit registers of its own
// (an address takes 1 or 4), as nft lays them out. Only the field types
// svcrouter's hash sets and maps use are known here: a set of any other kind
// (intervals, whose elements are ranges) is left to nft, and says so by
// having no encoder. Text is read in place, without splitting it: a full load
// encodes a million fields.
import { endianness } from 'node:os';
import { addressBytes } from '../netlink/address.js';
import type { AttributeWriter } from '../netlink/attributes.js';

const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_SET_ELEM_USERDATA = 6;
const NFTA_DATA_VALUE = 1;
const NFTA_DATA_VERDICT = 2;
const NFTA_VERDICT_CODE = 1;
const NFTA_VERDICT_CHAIN = 2;
/** nft's user data type for an element's comment. */
const NFTNL_UDATA_SET_ELEM_COMMENT = 0;

/** nf_tables verdict codes (NF_DROP, NF_ACCEPT, NFT_*). */
const VERDICTS: Readonly<Record<string, number>> = { drop: 0, accept: 1, continue: -1, jump: -3, goto: -4, return: -5 };
const PROTOCOLS: Readonly<Record<string, number>> = { tcp: 6, udp: 17, sctp: 132 };
const LE = endianness() === 'LE';

/** Writes the field in text[from, to) at out[at...]; throws if the text is not one. */
type Write = (text: string, from: number, to: number, out: Buffer, at: number) => void;

interface FieldType {
  /** 32-bit registers the field takes. */
  readonly registers: number;
  readonly write: Write;
}

function fail(what: string, text: string, from: number, to: number): never {
  throw new TypeError(`not ${what}: ${JSON.stringify(text.slice(from, to))}`);
}

/** A decimal number without leading zeros, up to max. */
function decimal(text: string, from: number, to: number, max: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (i > from && n === 0)) fail(`a number up to ${max}`, text, from, to);
    n = n * 10 + d;
  }
  if (to === from || n > max) fail(`a number up to ${max}`, text, from, to);
  return n;
}

const ipv4: FieldType = {
  registers: 1,
  write(text, from, to, out, at) {
    let part = from;
    for (let b = 0; b < 4; b++) {
      const dot = b < 3 ? text.indexOf('.', part) : to;
      if (dot < 0 || dot > to) fail('an ipv4 address', text, from, to);
      out[at + b] = decimal(text, part, dot, 255);
      part = dot + 1;
    }
  },
};
const ipv6: FieldType = {
  registers: 4,
  write(text, from, to, out, at) {
    out.set(addressBytes('ipv6', text.slice(from, to)), at);
  },
};
const proto: FieldType = {
  registers: 1,
  write(text, from, to, out, at) {
    out[at] = PROTOCOLS[text.slice(from, to)] ?? decimal(text, from, to, 255);
  },
};
const port: FieldType = {
  registers: 1,
  write(text, from, to, out, at) {
    out.writeUInt16BE(decimal(text, from, to, 65535), at);
  },
};
/** numgen's result: a host-endian 32-bit integer. */
const number: FieldType = {
  registers: 1,
  write(text, from, to, out, at) {
    const n = decimal(text, from, to, 0xffffffff);
    if (LE) out.writeUInt32LE(n, at);
    else out.writeUInt32BE(n, at);
  },
};

/** A field's type by its `type` name or its `typeof` expression. */
function fieldType(spec: string): FieldType | undefined {
  switch (spec) {
    case 'ipv4_addr': case 'ip daddr': case 'ip saddr': return ipv4;
    case 'ipv6_addr': case 'ip6 daddr': case 'ip6 saddr': return ipv6;
    case 'inet_proto': case 'meta l4proto': return proto;
    case 'inet_service': case 'th dport': case 'th sport': return port;
    default: return /^numgen (random|inc) mod \d+( offset \d+)?$/.test(spec) ? number : undefined;
  }
}

/** Room for the longest key or data: a few fields of at most 16 bytes. */
const scratch = { key: Buffer.alloc(256), data: Buffer.alloc(256) };

/** Reads a concatenation ("10.0.0.1 . tcp . 80") into `out`; returns its length in bytes. */
type Concatenation = (text: string, out: Buffer) => number;

function concatenation(specs: readonly string[]): Concatenation | undefined {
  const types = specs.map(fieldType);
  if (types.some((t) => !t)) return undefined;
  const fields = types as FieldType[];
  const bytes = fields.reduce((n, f) => n + 4 * f.registers, 0);
  return (text, out) => {
    out.fill(0, 0, bytes);
    let from = 0;
    let at = 0;
    for (let i = 0; i < fields.length; i++) {
      const last = i === fields.length - 1;
      const to = last ? text.length : text.indexOf(' . ', from);
      if (to < 0 || (last && text.includes(' . ', from))) throw new TypeError(`${JSON.stringify(text)} is not ${fields.length} fields`);
      fields[i]!.write(text, from, to, out, at);
      at += 4 * fields[i]!.registers;
      from = to + 3;
    }
    return bytes;
  };
}

function verdict(text: string): { code: number; chain?: string } {
  const space = text.indexOf(' ');
  const verb = space < 0 ? text : text.slice(0, space);
  const chain = space < 0 ? undefined : text.slice(space + 1);
  const code = VERDICTS[verb];
  const needsChain = verb === 'jump' || verb === 'goto';
  if (code === undefined || needsChain !== (chain !== undefined) || (chain !== undefined && !/^[\w.-]+$/.test(chain))) {
    throw new TypeError(`not a verdict: ${JSON.stringify(text)}`);
  }
  return { code, chain };
}

/** nft's comment on an element, as its user data: type, length, the text NUL-terminated. */
function commentUserdata(comment: string): Buffer {
  const text = Buffer.from(`${comment}\0`);
  if (text.length > 255) throw new TypeError(`comment too long: ${JSON.stringify(comment)}`);
  return Buffer.concat([Buffer.from([NFTNL_UDATA_SET_ELEM_COMMENT, text.length]), text]);
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
  const key = concatenation(keySpec!.split(' . '));
  const value = dataSpec === undefined || dataSpec === 'verdict' ? undefined : concatenation(dataSpec.split(' . '));
  if (!key || (dataSpec !== undefined && dataSpec !== 'verdict' && !value)) return undefined;
  const isMap = dataSpec !== undefined;
  const writeKey = (w: AttributeWriter, bytes: number) => w.nested(NFTA_SET_ELEM_KEY, () => w.binary(NFTA_DATA_VALUE, scratch.key.subarray(0, bytes)));
  return {
    element(w, k, data, comment) {
      if ((data === '') === isMap) throw new TypeError(`element ${JSON.stringify(k)}: ${isMap ? 'no data for a map' : 'data for a set'}`);
      // Everything is read before anything is written.
      const keyBytes = key(k, scratch.key);
      const dataBytes = value ? value(data, scratch.data) : 0;
      const v = isMap && !value ? verdict(data) : undefined;
      const userdata = comment === undefined ? undefined : commentUserdata(comment);
      w.nested(NFTA_LIST_ELEM, () => {
        writeKey(w, keyBytes);
        if (value) w.nested(NFTA_SET_ELEM_DATA, () => w.binary(NFTA_DATA_VALUE, scratch.data.subarray(0, dataBytes)));
        if (v) {
          w.nested(NFTA_SET_ELEM_DATA, () => w.nested(NFTA_DATA_VERDICT, () => {
            w.be32(NFTA_VERDICT_CODE, v.code);
            if (v.chain !== undefined) w.string(NFTA_VERDICT_CHAIN, v.chain);
          }));
        }
        if (userdata) w.binary(NFTA_SET_ELEM_USERDATA, userdata);
      });
    },
    key(w, k) {
      const keyBytes = key(k, scratch.key);
      w.nested(NFTA_LIST_ELEM, () => writeKey(w, keyBytes));
    },
  };
}

const encoders = new Map<string, ElementEncoder | undefined>();

/** elementEncoder, made once per declaration. */
export function encoderFor(decl: string): ElementEncoder | undefined {
  if (!encoders.has(decl)) encoders.set(decl, elementEncoder(decl));
  return encoders.get(decl);
}

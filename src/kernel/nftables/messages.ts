// nf_tables netlink messages (linux/netfilter/nf_tables.h): for reading what
// is in the kernel (the ruleset generation; the chains, rules and sets of one
// table), and for adding set elements in a transaction (a batch). Requests
// are an nfgenmsg (family, version 0, resource id 0) and attributes;
// nf_tables' integers are big-endian.
import { AttributeWriter, parseAttributes, readString } from '../netlink/attributes.js';
import type { Request } from '../netlink/exchange.js';
import { NLM_F_CREATE, type NetlinkMessage } from '../netlink/message.js';

export const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_GETCHAIN = 4;
const NFT_MSG_GETRULE = 7;
const NFT_MSG_GETSET = 10;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const NFT_MSG_GETGEN = 16;
/** nfnetlink's batch markers: what comes between them is one transaction. */
const NFNL_MSG_BATCH_BEGIN = 16;
const NFNL_MSG_BATCH_END = 17;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
// The first attribute of each of these messages names the table (nft_*_attributes).
const NFTA_TABLE = 1;
const NFTA_CHAIN_NAME = 3;
const NFTA_RULE_CHAIN = 2;
const NFTA_SET_NAME = 2;
const NFTA_SET_FLAGS = 3;
/** Sets nft makes for an inline `{ ... }` of a rule (`__set0`, `__map0`): they belong to the rule. */
const NFT_SET_ANONYMOUS = 0x1;
const NFTA_GEN_ID = 1;
const NFGENMSG_BYTES = 4;

export type NftFamily = 'ip' | 'ip6';

/** AF_INET, AF_INET6, AF_UNSPEC. */
const AF: Record<NftFamily | 'any', number> = { ip: 2, ip6: 10, any: 0 };

function request(cmd: number, family: NftFamily | 'any', dump: boolean, fill?: (w: AttributeWriter) => void, flags = 0): Request {
  const w = new AttributeWriter().raw(new Uint8Array([AF[family], 0, 0, 0]));
  fill?.(w);
  return { type: (NFNL_SUBSYS_NFTABLES << 8) | cmd, dump, flags, payload: w.bytes() };
}

/** The batch markers around one nf_tables transaction (sent without ACK: the kernel answers the requests). */
export function batchMarkers(): { begin: Request; end: Request } {
  // The resource id names the subsystem, in network order.
  const payload = Buffer.from([AF.any, 0, 0, NFNL_SUBSYS_NFTABLES]);
  return { begin: { type: NFNL_MSG_BATCH_BEGIN, payload }, end: { type: NFNL_MSG_BATCH_END, payload } };
}

/**
 * Adds elements to a set or map (existing ones are left as they are, as `nft
 * add element` does): `elements`, NFTA_LIST_ELEM attributes end to end
 * (element-encoding.ts).
 */
export function newElementsRequest(family: NftFamily, table: string, set: string, elements: Uint8Array): Request {
  return elementsRequest(NFT_MSG_NEWSETELEM, family, table, set, elements, NLM_F_CREATE);
}

/** Deletes elements, named by their keys (NFTA_LIST_ELEMs holding a key each); a missing one fails the transaction. */
export function deleteElementsRequest(family: NftFamily, table: string, set: string, elements: Uint8Array): Request {
  return elementsRequest(NFT_MSG_DELSETELEM, family, table, set, elements);
}

function elementsRequest(cmd: number, family: NftFamily, table: string, set: string, elements: Uint8Array, flags = 0): Request {
  return request(cmd, family, false, (w) => {
    w.string(NFTA_SET_ELEM_LIST_TABLE, table).string(NFTA_SET_ELEM_LIST_SET, set);
    w.nested(NFTA_SET_ELEM_LIST_ELEMENTS, () => w.raw(elements));
  }, flags);
}

export function generationRequest(): Request {
  return request(NFT_MSG_GETGEN, 'any', false);
}

/** Chains of every table of the family (the kernel filters chain dumps by family only). */
export function chainsRequest(family: NftFamily): Request {
  return request(NFT_MSG_GETCHAIN, family, true);
}

export function rulesRequest(family: NftFamily, table: string): Request {
  return request(NFT_MSG_GETRULE, family, true, (w) => w.string(NFTA_TABLE, table));
}

export function setsRequest(family: NftFamily, table: string): Request {
  return request(NFT_MSG_GETSET, family, true, (w) => w.string(NFTA_TABLE, table));
}

function attributes(msg: NetlinkMessage): Map<number, Buffer> {
  return parseAttributes(msg.payload.subarray(NFGENMSG_BYTES));
}

export function decodeGeneration(msg: NetlinkMessage): number {
  const id = attributes(msg).get(NFTA_GEN_ID);
  if (!id || id.length < 4) throw new Error('nf_tables generation reply without an id');
  return id.readUInt32BE(0);
}

/** Whether a set message is of an anonymous set (part of a rule, not declared). */
export function isAnonymousSet(msg: NetlinkMessage): boolean {
  const flags = attributes(msg).get(NFTA_SET_FLAGS);
  return flags !== undefined && flags.length >= 4 && (flags.readUInt32BE(0) & NFT_SET_ANONYMOUS) !== 0;
}

/** [table, name] of a chain, rule (its chain) or set message. */
export function decodeTableMember(msg: NetlinkMessage, kind: 'chain' | 'rule' | 'set'): [table: string, name: string] {
  const a = attributes(msg);
  const nameAttr = kind === 'chain' ? NFTA_CHAIN_NAME : kind === 'rule' ? NFTA_RULE_CHAIN : NFTA_SET_NAME;
  const table = a.get(NFTA_TABLE);
  const name = a.get(nameAttr);
  if (!table || !name) throw new Error(`nf_tables ${kind} message without its table or name`);
  return [readString(table), readString(name)];
}

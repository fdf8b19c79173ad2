// rtnetlink messages (linux/rtnetlink.h, if_link.h, if_addr.h) for a dummy
// link and the addresses on it. Pure: no socket here.
import type { Family } from '../../state/types.js';
import { addressBytes, addressText, afOf, familyOf } from '../netlink/address.js';
import { AttributeWriter, parseAttributes, readI32, readU32, writeU32 } from '../netlink/attributes.js';
import type { Request } from '../netlink/exchange.js';
import { NLM_F_CREATE, NLM_F_EXCL, type NetlinkMessage } from '../netlink/message.js';

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;
const IFLA_IFNAME = 3;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
/** No duplicate address detection: an IPv6 VIP is usable at once, never "tentative". */
const IFA_F_NODAD = 0x2;
const IFINFOMSG_LENGTH = 16;
const IFADDRMSG_LENGTH = 8;

export interface LinkAddress {
  readonly ifindex: number;
  readonly family: Family;
  readonly address: string;
  readonly prefixLength: number;
}

/** ifinfomsg with family AF_UNSPEC and no index: the link is named by IFLA_IFNAME. */
const byName = (name: string) => new AttributeWriter().raw(new Uint8Array(IFINFOMSG_LENGTH)).string(IFLA_IFNAME, name);

export const newDummyLinkRequest = (name: string): Request => ({
  type: RTM_NEWLINK,
  flags: NLM_F_CREATE | NLM_F_EXCL,
  payload: byName(name).nested(IFLA_LINKINFO, (w) => w.string(IFLA_INFO_KIND, 'dummy')).bytes(),
});

export const getLinkRequest = (name: string): Request => ({ type: RTM_GETLINK, payload: byName(name).bytes() });

export const deleteLinkRequest = (name: string): Request => ({ type: RTM_DELLINK, payload: byName(name).bytes() });

/** ifi_index of an RTM_NEWLINK reply. */
export function decodeLinkIndex(msg: NetlinkMessage): number {
  return readI32(msg.payload, 4);
}

/** Adds or deletes a host address (/32, /128) on link `ifindex`. */
export function addressRequest(op: 'add' | 'delete', ifindex: number, family: Family, address: string): Request {
  const header = Buffer.alloc(IFADDRMSG_LENGTH);
  header.writeUInt8(afOf(family), 0);
  header.writeUInt8(family === 'ipv4' ? 32 : 128, 1);
  header.writeUInt8(family === 'ipv6' ? IFA_F_NODAD : 0, 2);
  writeU32(header, ifindex, 4); // scope (byte 3) 0: universe
  const bytes = addressBytes(family, address);
  const payload = new AttributeWriter().raw(header).binary(IFA_LOCAL, bytes).binary(IFA_ADDRESS, bytes);
  if (family === 'ipv6') payload.u32(IFA_FLAGS, IFA_F_NODAD);
  return op === 'add'
    ? { type: RTM_NEWADDR, flags: NLM_F_CREATE | NLM_F_EXCL, payload: payload.bytes() }
    : { type: RTM_DELADDR, payload: payload.bytes() };
}

/** Every address of every link (the kernel filters by link only for strict-checking sockets). */
export const listAddressesRequest = (): Request => ({ type: RTM_GETADDR, dump: true, payload: Buffer.alloc(IFADDRMSG_LENGTH) });

/** An address from an RTM_GETADDR dump; undefined for families other than IPv4 and IPv6. */
export function decodeAddress(msg: NetlinkMessage): LinkAddress | undefined {
  const family = familyOf(msg.payload.readUInt8(0));
  if (!family) return undefined;
  const attrs = parseAttributes(msg.payload.subarray(IFADDRMSG_LENGTH));
  // IFA_LOCAL is the address itself; IFA_ADDRESS the peer on point-to-point IPv4 links (IPv6 sends only it).
  const addr = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
  if (!addr) throw new Error('RTM_NEWADDR without an address');
  return { ifindex: readU32(msg.payload, 4), family, address: addressText(family, addr), prefixLength: msg.payload.readUInt8(1) };
}

// Netlink messages (linux/netlink.h): a 16-byte header (length, type, flags,
// sequence number, port id) before each payload, each message padded to 4
// bytes, several to a datagram.
import { align4, readI32, readU16, readU32, writeU16, writeU32 } from './attributes.js';

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
/** On a dump's part: the objects changed while it was being dumped. */
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_DUMP = 0x300;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
const NLMSG_HDRLEN = 16;

export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** Everything after the header; a view into the received datagram. */
  readonly payload: Buffer;
}

/** Writes one message at `at` in `buf` (which has room); returns the offset after it. */
export function writeMessage(buf: Buffer, at: number, type: number, flags: number, seq: number, payload: Buffer): number {
  const len = NLMSG_HDRLEN + payload.length;
  writeU32(buf, len, at);
  writeU16(buf, type, at + 4);
  writeU16(buf, flags, at + 6);
  writeU32(buf, seq, at + 8);
  writeU32(buf, 0, at + 12); // port id 0: the kernel fills in ours
  payload.copy(buf, at + NLMSG_HDRLEN);
  buf.fill(0, at + len, at + align4(len));
  return at + align4(len);
}

export function messageSize(payload: Buffer): number {
  return align4(NLMSG_HDRLEN + payload.length);
}

/** The messages of one or more datagrams laid end to end. */
export function parseMessages(buf: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  for (let off = 0; off + NLMSG_HDRLEN <= buf.length;) {
    const len = readU32(buf, off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) throw new Error(`malformed netlink message at byte ${off}: length ${len}, ${buf.length - off} bytes left`);
    out.push({
      type: readU16(buf, off + 4),
      flags: readU16(buf, off + 6),
      seq: readU32(buf, off + 8),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/**
 * The errno an NLMSG_ERROR (0 = the ACK) or NLMSG_DONE carries, as a positive
 * number. Both start with the kernel's negative errno as an int.
 */
export function errnoOf(msg: NetlinkMessage): number {
  return msg.payload.length >= 4 ? -readI32(msg.payload) : 0;
}

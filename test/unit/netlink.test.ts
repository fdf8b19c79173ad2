// Netlink framing, attributes and the pairing of answers with requests, held
// to bytes written out by hand from linux/netlink.h and linux/genetlink.h
// (integers in host order: little-endian on the machines this runs on).
import { describe, expect, it } from 'vitest';
import { addressBytes, addressText } from '../../src/kernel/netlink/address.js';
import { AttributeWriter, parseAttributes, readString, readU16, readU32 } from '../../src/kernel/netlink/attributes.js';
import { NetlinkError } from '../../src/kernel/netlink/errors.js';
import { frameDatagrams, MAX_DATAGRAM_BYTES, ReplyCollector } from '../../src/kernel/netlink/exchange.js';
import { decodeFamilyId, familyRequest } from '../../src/kernel/netlink/generic.js';
import { parseMessages } from '../../src/kernel/netlink/message.js';
import { readFixture, replyIn } from '../support/netlink-fixtures.js';

/** Bytes from hex written with spaces between the fields. */
const hex = (...fields: string[]) => Buffer.from(fields.join('').replace(/\s/g, ''), 'hex');

/** An nlmsghdr (len, type, flags, seq, pid 0) in front of `payload`, padded to 4. */
function message(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, payload, Buffer.alloc((4 - (payload.length % 4)) % 4)]);
}

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_MULTI = 0x2;
const NLM_F_DUMP_INTR = 0x10;
const errorPayload = (errno: number) => { const b = Buffer.alloc(20); b.writeInt32LE(-errno, 0); return b; };

describe('attributes', () => {
  it('encodes each kind with its header, padding to 4 bytes, and NLA_F_NESTED on nests', () => {
    const bytes = new AttributeWriter()
      .raw(Uint8Array.of(1, 2, 3))
      .u8(1, 0xab)
      .u16(2, 0x1234)
      .be16(3, 80)
      .u32(4, 0xdeadbeef)
      .string(5, 'rr')
      .binary(6, Uint8Array.of(10, 96, 0, 1))
      .nested(7, (w) => w.u16(1, 2).string(2, 'dummy'))
      .bytes();
    expect(bytes).toEqual(hex(
      '01020300', //                       raw, padded
      '0500 0100 ab000000', //             u8: len 5, type 1
      '0600 0200 3412 0000', //            u16, host order
      '0600 0300 0050 0000', //            be16: port 80 in network order
      '0800 0400 efbeadde', //             u32
      '0700 0500 727200 00', //            "rr\0": len 7, padded to 8
      '0800 0600 0a600001', //             binary
      '1800 0780', //                      nest: len 24, type 7 | NLA_F_NESTED (0x8000)
      '  0600 0100 0200 0000', '  0a00 0200 64756d6d7900 0000', // "dummy\0": len 10, padded to 12
    ));
  });

  it('parses by type with NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off, and reads them', () => {
    const attrs = parseAttributes(hex('0600 0100 3412 0000', '0800 0240 efbeadde', '0700 0380 727200 00'));
    expect([...attrs.keys()]).toEqual([1, 2, 3]);
    expect(readU16(attrs.get(1)!)).toBe(0x1234);
    expect(readU32(attrs.get(2)!)).toBe(0xdeadbeef);
    expect(readString(attrs.get(3)!)).toBe('rr');
  });

  it('refuses an attribute that runs past its buffer', () => {
    expect(() => parseAttributes(hex('0c00 0100 00000000'))).toThrow(/malformed netlink attribute at byte 0: length 12/);
  });
});

describe('addresses', () => {
  it('encodes to network-order bytes and decodes to canonical text, by family', () => {
    expect(Buffer.from(addressBytes('ipv4', '255.0.10.199'))).toEqual(hex('ff000ac7'));
    expect(Buffer.from(addressBytes('ipv6', 'FD00:0::a:1'))).toEqual(hex('fd000000 00000000 00000000 000a0001'));
    // IPVS sends 16 bytes for an IPv4 address too: the family says how many count.
    expect(addressText('ipv4', hex('ff000ac7 00000000 00000000 00000000'))).toBe('255.0.10.199');
    expect(addressText('ipv6', hex('fd000000 00000000 00000000 000a0001'))).toBe('fd00::a:1');
  });

  it('refuses text that is not an address of the family', () => {
    for (const [family, text] of [['ipv4', '10.0.0'], ['ipv4', '10.0.0.256'], ['ipv4', '010.0.0.1'], ['ipv4', 'fd00::1'], ['ipv6', '10.0.0.1']] as const) {
      expect(() => addressBytes(family, text), text).toThrow(`not an ${family} address`);
    }
  });
});

describe('framing requests', () => {
  const payload = hex('03010000'); // a genlmsghdr alone
  let seq = 0;
  const nextSeq = () => ++seq;

  it('writes an nlmsghdr per request: REQUEST|ACK, or REQUEST|DUMP, plus the request\'s own flags', () => {
    seq = 40;
    const [d] = frameDatagrams([{ type: 0x20, payload }, { type: 0x20, payload, flags: 0x600 }], nextSeq);
    expect(d!.seqs).toEqual([41, 42]);
    expect(d!.bytes).toEqual(hex(
      '14000000 2000 0500 29000000 00000000', '03010000', // len 20, type 0x20, REQUEST|ACK, seq 41, pid 0
      '14000000 2000 0506 2a000000 00000000', '03010000', // | CREATE|EXCL (0x600)
    ));
    const [dump] = frameDatagrams([{ type: 0x20, payload, dump: true }], nextSeq);
    expect(dump!.bytes.subarray(4, 8)).toEqual(hex('2000 0103')); // REQUEST | DUMP (0x300)
  });

  it('puts each dump in a datagram of its own, and splits at the size limit', () => {
    const requests = [{ type: 1, payload }, { type: 1, payload, dump: true }, { type: 1, payload }, { type: 1, payload }];
    expect(frameDatagrams(requests, nextSeq).map((d) => d.seqs.length)).toEqual([1, 1, 2]);
    const big = Buffer.alloc(1000);
    const many = Array.from({ length: 200 }, () => ({ type: 1, payload: big }));
    const datagrams = frameDatagrams(many, nextSeq);
    expect(datagrams.map((d) => d.seqs.length)).toEqual([64, 64, 64, 8]); // 1016 bytes each
    expect(Math.max(...datagrams.map((d) => d.bytes.length))).toBeLessThanOrEqual(MAX_DATAGRAM_BYTES);
  });
});

describe('collecting replies', () => {
  it('pairs each ACK or error with its request by sequence number, in any order', () => {
    const c = new ReplyCollector([7, 8, 9]);
    c.add(Buffer.concat([message(NLMSG_ERROR, 0, 9, errorPayload(17)), message(NLMSG_ERROR, 0, 7, errorPayload(0))]));
    expect(c.complete).toBe(false);
    c.add(message(NLMSG_ERROR, 0, 8, errorPayload(3)));
    expect(c.complete).toBe(true);
    expect(c.replies().map((r) => r.errno)).toEqual([0, 3, 17]);
  });

  it('keeps a dump\'s parts across datagrams until DONE, and ignores messages for no open request', () => {
    const c = new ReplyCollector([5]);
    c.add(Buffer.concat([message(0x20, NLM_F_MULTI, 5, hex('01010000')), message(NLMSG_ERROR, 0, 4, errorPayload(0))]));
    c.add(message(0x20, NLM_F_MULTI, 5, hex('01010000')));
    expect(c.complete).toBe(false);
    c.add(message(NLMSG_DONE, NLM_F_MULTI, 5, hex('00000000')));
    expect(c.replies()).toEqual([{ errno: 0, messages: [expect.objectContaining({ type: 0x20, seq: 5 }), expect.objectContaining({ type: 0x20, seq: 5 })] }]);
  });

  it('fails a dump the kernel marks as interrupted with EINTR, so that it is asked again', () => {
    const c = new ReplyCollector([5]);
    c.add(Buffer.concat([message(0x20, NLM_F_MULTI | NLM_F_DUMP_INTR, 5, hex('01010000')), message(NLMSG_DONE, NLM_F_MULTI, 5, hex('00000000'))]));
    expect(c.replies()[0]!.errno).toBe(4);
  });

  it('reads a real ESRCH error, whose payload echoes the request', () => {
    const bytes = readFixture('ipvs-new-dest-esrch');
    const [m] = parseMessages(bytes);
    expect(m).toMatchObject({ type: NLMSG_ERROR });
    expect(m!.payload.readUInt32LE(4)).toBe(m!.payload.length - 4); // the echoed nlmsghdr's length: all of the request
    expect(replyIn(bytes)).toEqual({ errno: 3, messages: [] });
  });
});

describe('generic netlink family lookup', () => {
  it('asks GENL_ID_CTRL for CTRL_CMD_GETFAMILY with the name', () => {
    expect(familyRequest('IPVS')).toEqual({
      type: 0x10,
      payload: hex('03010000', '0900 0200 49505653 00 000000'), // cmd 3, version 1; CTRL_ATTR_FAMILY_NAME "IPVS\0"
    });
  });

  it('reads the family id from the kernel\'s answer (the type its IPVS messages then carry)', () => {
    const family = replyIn(readFixture('genl-getfamily-ipvs'));
    expect(family.errno).toBe(0);
    expect(decodeFamilyId(family.messages[0]!)).toBe(parseMessages(readFixture('ipvs-get-service-dump'))[0]!.type);
  });
});

describe('NetlinkError', () => {
  it('names the operation, the errno and its text, and keeps the number', () => {
    const e = new NetlinkError('add real server 10.0.0.5:8080 to TCP 10.96.0.1:80', 3);
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe('add real server 10.0.0.5:8080 to TCP 10.96.0.1:80: ESRCH (No such process)');
    expect(e).toMatchObject({ name: 'NetlinkError', errno: 3, code: 'ESRCH' });
  });
});

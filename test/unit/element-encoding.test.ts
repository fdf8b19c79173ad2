// Set elements as netlink bytes, checked against what nft itself sends for
// the same elements (its --debug=netlink dump: registers as host-order words).
import { describe, expect, it } from 'vitest';
import { elementEncoder } from '../../src/kernel/nftables/element-encoding.js';
import { AttributeWriter, parseAttributes, readString } from '../../src/kernel/netlink/attributes.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** One element encoded, read back from its NFTA_LIST_ELEM: key and data bytes, verdict, user data. */
function encode(decl: string, key: string, data: string, comment: string | undefined) {
  const w = new AttributeWriter();
  elementEncoder(decl)!.element(w, key, data, comment);
  const all = parseAttributes(w.bytes());
  expect([...all.keys()]).toEqual([1]); // NFTA_LIST_ELEM
  const elem = parseAttributes(all.get(1)!);
  const value = (nested: Buffer | undefined) => nested && parseAttributes(nested).get(1); // NFTA_DATA_VALUE
  const dataAttr = elem.get(2) && parseAttributes(elem.get(2)!);
  const verdict = dataAttr?.get(2) && parseAttributes(dataAttr.get(2)!);
  return {
    key: value(elem.get(1))!,
    data: dataAttr?.get(1),
    verdict: verdict && { code: verdict.get(1)!.readInt32BE(0), chain: verdict.get(2) && readString(verdict.get(2)!) },
    userdata: elem.get(6),
  };
}

describe('element encoding', () => {
  it('lays a backends map key and data out in registers, as nft does', () => {
    const e = encode('typeof ip daddr . meta l4proto . th dport . numgen random mod 10 : ip daddr . th dport ;', '10.96.0.1 . udp . 80 . 3', '10.128.0.10 . 8080', undefined);
    // nft: "element 0100600a 00000011 00005000 00000003 : 0a00800a 0000901f"
    expect(hex(e.key)).toBe('0a600001' + '11000000' + '00500000' + '03000000');
    expect(hex(e.data as Uint8Array)).toBe('0a80000a' + '1f900000');
    expect(e.userdata).toBeUndefined();
  });

  it('writes verdicts with their chain, and comments as nft user data', () => {
    const decl = 'type ipv4_addr . inet_proto . inet_service : verdict ;';
    const e = encode(decl, '10.96.0.1 . tcp . 443', 'goto vip-10', 'default/svc-0:http/udp');
    expect(hex(e.key)).toBe('0a600001' + '06000000' + '01bb0000');
    expect(e.verdict).toEqual({ code: -4, chain: 'vip-10' });
    // nft: userdata = { \x00\x17default/svc-0:http/udp\x00 }
    expect(Buffer.from(e.userdata!).toString('latin1')).toBe('\x00\x17default/svc-0:http/udp\x00');
    expect(encode(decl, '10.96.0.1 . sctp . 1', 'drop', undefined).verdict).toEqual({ code: 0, chain: undefined });
    expect(encode(decl, '10.96.0.1 . 132 . 1', 'jump a_b.c-1', undefined).verdict).toEqual({ code: -3, chain: 'a_b.c-1' });
    expect(encode(decl, '10.96.0.1 . 0 . 0', 'return', undefined).verdict).toEqual({ code: -5, chain: undefined });
    expect(encode(decl, '10.96.0.1 . udp . 65535', 'accept', 'x'.repeat(254)).userdata!.length).toBe(2 + 254 + 1);
  });

  it('writes numgen slots in host order, up to 32 bits', () => {
    const decl = 'typeof meta l4proto . th dport . numgen inc mod 1 offset 7 : ip daddr . th dport ;';
    const slot = (n: string) => encode(decl, `tcp . 80 . ${n}`, '10.0.0.1 . 80', undefined).key.subarray(8);
    const le = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b.toString('hex'); };
    expect(hex(slot('7'))).toBe(le(7));
    expect(hex(slot('4294967295'))).toBe(le(4294967295));
    expect(() => slot('4294967296')).toThrow(/up to 4294967295/);
  });

  it('names an element to delete by its key alone', () => {
    const w = new AttributeWriter();
    elementEncoder('type ipv4_addr . inet_proto . inet_service : verdict ;')!.key(w, '10.96.0.1 . tcp . 443');
    const elem = parseAttributes(parseAttributes(w.bytes()).get(1)!);
    expect([...elem.keys()]).toEqual([1]);
    expect(hex(parseAttributes(elem.get(1)!).get(1)!)).toBe('0a600001' + '06000000' + '01bb0000');
  });

  it('takes IPv6 addresses in any form, and plain sets without data', () => {
    const e = encode('type ipv6_addr . ipv6_addr ;', 'fd00::1 . fd00:0:0::2', '', undefined);
    expect(hex(e.key)).toBe('fd000000000000000000000000000001' + 'fd000000000000000000000000000002');
    expect(e.data).toBeUndefined();
    expect(hex(encode('typeof meta l4proto . th dport . numgen random mod 3 : ip6 daddr . th dport ;', 'tcp . 30000 . 2', 'fd00::5 . 80', undefined).data!))
      .toBe('fd000000000000000000000000000005' + '00500000');
  });

  it('leaves to nft the sets it does not lay out: intervals, dynamic sets, unknown fields', () => {
    expect(elementEncoder('type ipv4_addr ; flags interval ;')).toBeUndefined();
    expect(elementEncoder('typeof ip saddr . ip daddr ; flags dynamic,timeout ; size 1048576 ;')).toBeUndefined();
    expect(elementEncoder('type ether_addr ;')).toBeUndefined();
    expect(elementEncoder('type ipv4_addr : mark ;')).toBeUndefined();
  });

  it('refuses text that is not an element of the set, having written nothing', () => {
    const w = new AttributeWriter();
    const enc = (key: string, data: string) => elementEncoder('type ipv4_addr . inet_proto . inet_service : verdict ;')!.element(w, key, data, undefined);
    expect(() => enc('10.96.0.1 . tcp', 'goto x')).toThrow(/not 3 fields/);
    expect(() => enc('10.96.0.1 . tcp . 80 . 1', 'goto x')).toThrow(/not 3 fields/);
    expect(() => enc('10.96.0.300 . tcp . 80', 'goto x')).toThrow(/up to 255/);
    expect(() => enc('10.96.1 . tcp . 80', 'goto x')).toThrow(/ipv4 address/);
    expect(() => enc('10.96.0.01 . tcp . 80', 'goto x')).toThrow(/up to 255/);
    expect(() => enc('10.96.0.1 . tcp . 65536', 'goto x')).toThrow(/up to 65535/);
    expect(() => enc('10.96.0.1 . tcp . 80', 'goto')).toThrow(/not a verdict/);
    expect(() => enc('10.96.0.1 . tcp . 80', 'goto a"b')).toThrow(/not a verdict/);
    expect(() => enc('10.96.0.1 . tcp . 80', '')).toThrow(/no data for a map/);
    expect(() => elementEncoder('type ipv4_addr ;')!.element(w, '10.0.0.1', 'accept', undefined)).toThrow(/data for a set/);
    expect(() => elementEncoder('type ipv6_addr ;')!.element(w, 'fd00::g', '', undefined)).toThrow(/ipv6 address/);
    expect(() => elementEncoder('type ipv6_addr ;')!.key(w, '10.0.0.1')).toThrow(/ipv6 address/);
    expect(() => enc('10.96.0.1 . tcp . 80', `goto ${'c'.repeat(256)}`)).toThrow(/not a verdict/);
    expect(() => enc('10.96.0.1 . tcp . 80', 'goto x\0y')).toThrow(/not a verdict/);
    expect(() => enc('10.96.0.1 . tcp\0 . 80', 'goto x')).toThrow(/up to 255/);
    expect(() => enc('10.96.0.1 . tcp . 80', 'jump')).toThrow(/not a verdict/);
    expect(() => elementEncoder('type ipv4_addr : verdict ;')!.element(w, '10.0.0.1', 'accept', 'x'.repeat(255))).toThrow(/comment of up to 254 bytes/);
    expect(w.length).toBe(0);
  });
});

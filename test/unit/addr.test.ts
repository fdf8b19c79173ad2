// Address containment, against arithmetic on the addresses' numbers: each
// family parsed by its own parser, never confused with the other.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cidrContains, parseCIDR, parseIP, withoutNested } from '../../src/state/addr.js';
import type { Cidr } from '../../src/state/types.js';

const cidr = (text: string): Cidr => parseCIDR(text)!;

/** An address as a number: 32 bits, or 128. */
function value(ip: string): bigint {
  if (ip.includes('.')) return ip.split('.').reduce((n, b) => (n << 8n) | BigInt(b), 0n);
  const [head, tail = ''] = ip.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const all = [...groups(head!), ...Array(8 - groups(head!).length - groups(tail).length).fill('0'), ...groups(tail)];
  return all.reduce((n, g) => (n << 16n) | BigInt(`0x${g}`), 0n);
}

function contains(c: Cidr, ip: string): boolean {
  const bits = c.family === 'ipv4' ? 32n : 128n;
  if ((ip.includes(':') ? 128n : 32n) !== bits) return false;
  const [net, len] = c.text.split('/');
  const shift = bits - BigInt(len!);
  return value(net!) >> shift === value(ip) >> shift;
}

const v4 = fc.ipV4().map((ip) => parseIP(ip)!.ip);
const v6 = fc.ipV6().map((ip) => parseIP(ip)!.ip).filter((ip) => ip.includes(':'));
const anyIP = fc.oneof(v4, v6);
const anyCidr = fc.oneof(
  fc.tuple(v4, fc.integer({ min: 0, max: 32 })),
  fc.tuple(v6, fc.integer({ min: 0, max: 128 })),
).map(([ip, len]) => cidr(`${ip}/${len}`));

describe('cidrContains', () => {
  it('matches the arithmetic for any address and range of either family', () => {
    fc.assert(fc.property(anyCidr, anyIP, (c, ip) => cidrContains(c, ip) === contains(c, ip)), { numRuns: 2000 });
  });

  it('never matches across families, an IPv4-mapped IPv6 address included', () => {
    expect(cidrContains(cidr('10.0.0.0/8'), '10.1.2.3')).toBe(true);
    expect(cidrContains(cidr('10.0.0.0/8'), '::ffff:10.1.2.3')).toBe(false);
    expect(cidrContains(cidr('::/0'), '10.1.2.3')).toBe(false);
    expect(cidrContains(cidr('fd00::/8'), 'fd00::1')).toBe(true);
  });
});

describe('withoutNested', () => {
  it('keeps exactly the ranges no wider range of the list contains, each once', () => {
    fc.assert(fc.property(fc.array(anyCidr, { maxLength: 8 }), (list) => {
      const uniq = [...new Map(list.map((c) => [c.text, c])).values()];
      const len = (c: Cidr) => Number(c.text.split('/')[1]);
      const expected = uniq.filter((c) => !uniq.some((o) => o.family === c.family && len(o) < len(c) && contains(o, c.text.split('/')[0]!)));
      expect(withoutNested(list).map((c) => c.text)).toEqual(expected.map((c) => c.text));
    }), { numRuns: 1000 });
  });

  it('drops a range inside another of its family only', () => {
    const out = withoutNested([cidr('10.0.0.0/8'), cidr('10.1.0.0/16'), cidr('192.168.0.0/16'), cidr('::/0'), cidr('fd00::/8')]);
    expect(out.map((c) => c.text)).toEqual(['10.0.0.0/8', '192.168.0.0/16', '::/0']);
  });
});

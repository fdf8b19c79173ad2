// rtnetlink messages for the dummy link and its addresses: requests held to
// bytes written out by hand from linux/rtnetlink.h, if_link.h and if_addr.h,
// the address dump decoded from one captured from a real kernel.
import { describe, expect, it } from 'vitest';
import { addressRequest, deleteLinkRequest, getLinkRequest, listAddressesRequest, newDummyLinkRequest } from '../../src/kernel/links/messages.js';
import { decodeFixture, readFixture } from '../support/netlink-fixtures.js';

const hex = (...fields: string[]) => Buffer.from(fields.join('').replace(/\s/g, ''), 'hex');

const IFINFOMSG = '00 00 0000 00000000 00000000 00000000'; // family AF_UNSPEC, type, index 0, flags, change
const IFNAME = '0f00 0300 6b7562652d6970767330 00 00'; // IFLA_IFNAME "kube-ipvs0\0": len 15, padded to 16

describe('link requests', () => {
  it('RTM_NEWLINK with CREATE|EXCL: the name and IFLA_LINKINFO { IFLA_INFO_KIND "dummy" }', () => {
    expect(newDummyLinkRequest('kube-ipvs0')).toEqual({
      type: 16,
      flags: 0x600,
      payload: hex(IFINFOMSG, IFNAME, '1000 1280', '0a00 0100 64756d6d7900 0000'),
    });
  });

  it('RTM_GETLINK and RTM_DELLINK name the link', () => {
    expect(getLinkRequest('kube-ipvs0')).toEqual({ type: 18, payload: hex(IFINFOMSG, IFNAME) });
    expect(deleteLinkRequest('kube-ipvs0')).toEqual({ type: 17, payload: hex(IFINFOMSG, IFNAME) });
  });

  it('RTM_NEWADDR: a /32 with IFA_LOCAL and IFA_ADDRESS; a /128 without duplicate address detection', () => {
    expect(addressRequest('add', 7, 'ipv4', '10.96.0.1')).toEqual({
      type: 20,
      flags: 0x600,
      payload: hex(
        '02 20 00 00 07000000', //           ifaddrmsg: AF_INET, /32, no flags, scope universe, ifindex 7
        '0800 0200 0a600001', //             IFA_LOCAL
        '0800 0100 0a600001', //             IFA_ADDRESS
      ),
    });
    expect(addressRequest('add', 7, 'ipv6', 'fd00::1').payload).toEqual(hex(
      '0a 80 02 00 07000000', //             AF_INET6, /128, IFA_F_NODAD
      '1400 0200 fd000000 00000000 00000000 00000001',
      '1400 0100 fd000000 00000000 00000000 00000001',
      '0800 0800 02000000', //               IFA_FLAGS: IFA_F_NODAD
    ));
  });

  it('RTM_DELADDR has no create flags; RTM_GETADDR is a dump of every family', () => {
    expect(addressRequest('delete', 7, 'ipv4', '10.96.0.1')).toEqual({ type: 21, payload: hex('02 20 00 00 07000000', '0800 0200 0a600001', '0800 0100 0a600001') });
    expect(listAddressesRequest()).toEqual({ type: 22, dump: true, payload: hex('00 00 00 00 00000000') });
  });
});

describe('address dump from a real kernel', () => {
  it('gives every IPv4 and IPv6 address with its link index and prefix length', () => {
    expect(decodeFixture('rtm-getaddr-dump', readFixture('rtm-getaddr-dump'))).toEqual([
      { ifindex: 1, family: 'ipv4', address: '127.0.0.1', prefixLength: 8 },
      { ifindex: 2, family: 'ipv4', address: '10.96.0.1', prefixLength: 32 },
      { ifindex: 3, family: 'ipv4', address: '10.1.0.1', prefixLength: 24 },
      { ifindex: 1, family: 'ipv6', address: '::1', prefixLength: 128 },
      { ifindex: 2, family: 'ipv6', address: 'fd00::10', prefixLength: 128 },
    ]);
  });
});

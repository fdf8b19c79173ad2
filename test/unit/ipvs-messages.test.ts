// IPVS generic netlink messages: requests held to bytes written out by hand
// from include/uapi/linux/ip_vs.h, replies decoded from ones captured from a
// real kernel (test/fixtures/netlink/, see test/support/netlink-fixtures.ts).
import { describe, expect, it } from 'vitest';
import { flushRequest, getInfoRequest, listRealServersRequest, listVirtualServersRequest, operationRequest, setTimeoutsRequest } from '../../src/kernel/ipvs/messages.js';
import { describeOperation, ServiceFlags, type RealServer, type VirtualServer } from '../../src/kernel/ipvs/model.js';
import { decodeFixture, readFixture } from '../support/netlink-fixtures.js';

const hex = (...fields: string[]) => Buffer.from(fields.join('').replace(/\s/g, ''), 'hex');
const FAMILY = 0x20;

const vs: VirtualServer = { family: 'ipv4', protocol: 'tcp', address: '10.96.0.1', port: 80, scheduler: 'rr', flags: ServiceFlags.persistent, timeout: 10800, netmask: 32 };
const rs: RealServer = { address: '10.0.0.5', port: 8080, weight: 1, forwardMethod: 'masq', upperThreshold: 100, lowerThreshold: 10 };

// IPVS_CMD_ATTR_SERVICE (1) | NLA_F_NESTED, holding the key: AF 2, PROTOCOL 6, ADDR 10.96.0.1, PORT 80 (big-endian).
const SERVICE_KEY = ['0600 0100 0200 0000', '0600 0200 0600 0000', '0800 0300 0a600001', '0600 0400 0050 0000'];

describe('IPVS requests', () => {
  it('NEW_SERVICE: the key, then scheduler, flags with an all-bits mask, timeout and the IPv4 mask', () => {
    expect(operationRequest(FAMILY, { op: 'add-virtual-server', vs })).toEqual({
      type: FAMILY,
      dump: false,
      payload: hex(
        '01010000', //                        genlmsghdr: IPVS_CMD_NEW_SERVICE, version 1
        '4800 0180', ...SERVICE_KEY, //       nest of 72 bytes
        '0700 0600 727200 00', //             SCHED_NAME "rr\0"
        '0c00 0700 01000000 ffffffff', //     FLAGS { flags PERSISTENT, mask }
        '0800 0800 302a0000', //              TIMEOUT 10800
        '0800 0900 ffffffff', //              NETMASK 255.255.255.255 (a __be32 in the kernel)
      ),
    });
  });

  it('SET_SERVICE of an IPv6 service: 16-byte address, prefix length as the netmask', () => {
    const v6 = { ...vs, family: 'ipv6', protocol: 'sctp', address: 'fd00::1', port: 443, scheduler: 'mh', flags: ServiceFlags.sched2, timeout: 0, netmask: 64 } as const;
    expect(operationRequest(FAMILY, { op: 'update-virtual-server', vs: v6 }).payload).toEqual(hex(
      '02010000', //                        IPVS_CMD_SET_SERVICE
      '5400 0180',
      '0600 0100 0a00 0000', //             AF_INET6
      '0600 0200 8400 0000', //             IPPROTO_SCTP 132
      '1400 0300 fd000000 00000000 00000000 00000001',
      '0600 0400 01bb 0000', //             443
      '0700 0600 6d6800 00', //             "mh\0"
      '0c00 0700 10000000 ffffffff', //     SCHED2: hash the source port too
      '0800 0800 00000000',
      '0800 0900 40000000', //              64
    ));
  });

  it('DEL_SERVICE carries only the key; a /24 IPv4 netmask is the mask in network order', () => {
    expect(operationRequest(FAMILY, { op: 'delete-virtual-server', vs }).payload).toEqual(hex('03010000', '2400 0180', ...SERVICE_KEY));
    expect(operationRequest(FAMILY, { op: 'add-virtual-server', vs: { ...vs, netmask: 24 } }).payload.subarray(-4)).toEqual(hex('ffffff00'));
  });

  it('NEW_DEST and SET_DEST: the service key, then the destination with forwarding method, weight and thresholds', () => {
    const dest = hex(
      '3400 0280', //                       IPVS_CMD_ATTR_DEST (2) | NLA_F_NESTED
      '0800 0100 0a000005', //              ADDR
      '0600 0200 1f90 0000', //             PORT 8080
      '0800 0300 00000000', //              FWD_METHOD masq
      '0800 0400 01000000', //              WEIGHT
      '0800 0500 64000000', //              U_THRESH 100
      '0800 0600 0a000000', //              L_THRESH 10
    );
    expect(operationRequest(FAMILY, { op: 'add-real-server', vs, rs }).payload).toEqual(Buffer.concat([hex('05010000', '2400 0180', ...SERVICE_KEY), dest]));
    expect(operationRequest(FAMILY, { op: 'update-real-server', vs, rs }).payload.subarray(0, 4)).toEqual(hex('06010000'));
  });

  it('DEL_DEST carries only the destination\'s key', () => {
    expect(operationRequest(FAMILY, { op: 'delete-real-server', vs, rs }).payload).toEqual(hex(
      '07010000', '2400 0180', ...SERVICE_KEY,
      '1400 0280', '0800 0100 0a000005', '0600 0200 1f90 0000',
    ));
  });

  it('dumps: GET_SERVICE with no attributes, GET_DEST with the service key', () => {
    expect(listVirtualServersRequest(FAMILY)).toEqual({ type: FAMILY, dump: true, payload: hex('04010000') });
    expect(listRealServersRequest(FAMILY, vs)).toEqual({ type: FAMILY, dump: true, payload: hex('08010000', '2400 0180', ...SERVICE_KEY) });
  });

  it('SET_CONFIG sends only the timeouts given; GET_INFO and FLUSH are bare commands', () => {
    expect(setTimeoutsRequest(FAMILY, { tcp: 900, udp: 30 }).payload).toEqual(hex('0c010000', '0800 0400 84030000', '0800 0600 1e000000'));
    expect(setTimeoutsRequest(FAMILY, { tcpFin: 60 }).payload).toEqual(hex('0c010000', '0800 0500 3c000000'));
    expect(getInfoRequest(FAMILY).payload).toEqual(hex('0f010000'));
    expect(flushRequest(FAMILY).payload).toEqual(hex('11010000'));
  });

  it('a firewall-mark service is keyed by AF and FWMARK alone, in every request', () => {
    const fwm = { family: 'ipv6', fwmark: 257, scheduler: 'rr', flags: 0, timeout: 0, netmask: 128 } as const;
    const key = ['0600 0100 0a00 0000', '0800 0500 01010000']; // AF_INET6; FWMARK 257 (host order)
    expect(operationRequest(FAMILY, { op: 'add-virtual-server', vs: fwm }).payload).toEqual(hex(
      '01010000', '3800 0180', ...key, '0700 0600 727200 00', '0c00 0700 00000000 ffffffff', '0800 0800 00000000', '0800 0900 80000000'));
    expect(operationRequest(FAMILY, { op: 'delete-virtual-server', vs: fwm }).payload).toEqual(hex('03010000', '1400 0180', ...key));
    expect(listRealServersRequest(FAMILY, fwm).payload).toEqual(hex('08010000', '1400 0180', ...key));
    expect(describeOperation({ op: 'add-real-server', vs: fwm, rs: { ...rs, address: 'fd00::5' } })).toBe('add real server [fd00::5]:8080 to FWM 257 IPv6');
  });

  it('refuses an address of the other family before anything is sent', () => {
    expect(() => operationRequest(FAMILY, { op: 'add-real-server', vs, rs: { ...rs, address: 'fd00::5' } })).toThrow('not an ipv4 address: "fd00::5"');
  });

  it('names the operation for its error message', () => {
    expect(describeOperation({ op: 'add-real-server', vs, rs })).toBe('add real server 10.0.0.5:8080 to TCP 10.96.0.1:80');
    expect(describeOperation({ op: 'delete-real-server', vs: { ...vs, family: 'ipv6', protocol: 'udp', address: 'fd00::1' }, rs: { address: 'fd01::5', port: 53 } }))
      .toBe('delete real server [fd01::5]:53 from UDP [fd00::1]:80');
  });
});

describe('IPVS replies from a real kernel', () => {
  it('GET_SERVICE dump: addresses read by AF, HASHED stripped, a firewall-mark service by its mark (sorted)', () => {
    expect(decodeFixture('ipvs-get-service-dump', readFixture('ipvs-get-service-dump'))).toEqual([
      { family: 'ipv4', protocol: 'sctp', address: '10.96.0.3', port: 9000, scheduler: 'sh', flags: ServiceFlags.persistent | ServiceFlags.sched1, timeout: 600, netmask: 24 },
      { family: 'ipv4', protocol: 'tcp', address: '10.96.0.1', port: 80, scheduler: 'rr', flags: ServiceFlags.persistent, timeout: 10800, netmask: 32 },
      { family: 'ipv6', protocol: 'udp', address: 'fd00::10', port: 53, scheduler: 'mh', flags: ServiceFlags.sched2, timeout: 0, netmask: 128 },
      { family: 'ipv4', fwmark: 7, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32 },
    ]);
  });

  it('GET_DEST dump: weights (a drained one at 0), thresholds and the connection counters', () => {
    const base = { port: 8080, forwardMethod: 'masq', inactiveConns: 0 };
    expect(decodeFixture('ipvs-get-dest-dump', readFixture('ipvs-get-dest-dump'))).toEqual([
      { ...base, address: '10.1.0.3', weight: 0, upperThreshold: 0, lowerThreshold: 0, activeConns: 0, persistConns: 0 },
      // One connection attempt: a SYN counts as active, and persistence made a template.
      { ...base, address: '10.1.0.2', weight: 1, upperThreshold: 100, lowerThreshold: 10, activeConns: 1, persistConns: 1 },
    ]);
  });

  it('GET_INFO and GET_CONFIG', () => {
    expect(decodeFixture('ipvs-get-info', readFixture('ipvs-get-info'))).toEqual({ version: '1.2.1', connectionTableSize: 4096 });
    expect(decodeFixture('ipvs-get-config', readFixture('ipvs-get-config'))).toEqual({ tcp: 1000, tcpFin: 60, udp: 200 });
  });
});

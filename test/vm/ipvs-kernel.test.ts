// The IPVS and link clients against a kernel with IPVS: runs inside the VM
// (test/e2e/vm-suites.test.ts boots it), in network namespaces of its own
// (IPVS state is per namespace), cross-checked with ipvsadm and ip.
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IpvsClient } from '../../src/kernel/ipvs/client.js';
import { getInfoRequest, getTimeoutsRequest, listRealServersRequest, listVirtualServersRequest, operationRequest } from '../../src/kernel/ipvs/messages.js';
import { ServiceFlags, type IpvsOperation, type RealServer, type VirtualServer, type VirtualServerKey } from '../../src/kernel/ipvs/model.js';
import { LinkClient } from '../../src/kernel/links/client.js';
import { listAddressesRequest } from '../../src/kernel/links/messages.js';
import { frameDatagrams, ReplyCollector, type Request } from '../../src/kernel/netlink/exchange.js';
import { familyRequest, resolveFamily } from '../../src/kernel/netlink/generic.js';
import { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkSocket } from '../../src/kernel/netlink/socket.js';
import { ipvsadmRules, vsKey } from '../support/ipvsadm.js';
import { netnsExec, run } from '../support/netns.js';
import { decodeFixture, FIXTURES, readFixture, writeFixture, type FixtureName } from '../support/netlink-fixtures.js';

let namespaces = 0;

/** A fresh namespace with lo up: IPv4 real servers need an address in it (see the EINVAL test). */
async function createNamespace(loUp = true): Promise<{ name: string; path: string }> {
  const name = `ipvs-${process.pid}-${namespaces++}`;
  await run(['ip', 'netns', 'add', name]);
  if (loUp) await run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  return { name, path: `/run/netns/${name}` };
}

/** Polls `ok` every 100 ms for up to 10 s. */
async function until(ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 100));
}

const rs = (address: string, port: number, weight = 1, upperThreshold = 0, lowerThreshold = 0): RealServer =>
  ({ address, port, weight, forwardMethod: 'masq', upperThreshold, lowerThreshold });

const sorted = <T extends VirtualServerKey>(list: T[]) => [...list].sort((a, b) => vsKey(a).localeCompare(vsKey(b)));

describe('IPVS client', () => {
  let ns: { name: string; path: string };
  let ipvs: IpvsClient;

  beforeAll(async () => {
    ns = await createNamespace();
    ipvs = await IpvsClient.open({ netns: ns.path });
  });
  afterAll(async () => {
    await ipvs?.close();
    if (ns) await run(['ip', 'netns', 'del', ns.name]);
  });
  beforeEach(() => ipvs.flush());

  it('reports the IPVS version and connection table size', async () => {
    expect(await ipvs.getInfo()).toEqual({ version: '1.2.1', connectionTableSize: 4096 });
  });

  it('adds virtual servers of each protocol, family and scheduler, and reads them back as ipvsadm does', async () => {
    const schedulers = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'dh', 'mh', 'sed', 'nq'];
    const schedFlags: Record<string, number> = { mh: ServiceFlags.sched2, sh: ServiceFlags.sched1 | ServiceFlags.sched2 };
    const wanted: VirtualServer[] = schedulers.flatMap((scheduler, i) => (['tcp', 'udp', 'sctp'] as const).flatMap((protocol, p) => {
      const persistent = (i + p) % 2 === 1;
      const common = { protocol, port: 80 + p, scheduler, flags: (persistent ? ServiceFlags.persistent : 0) | (schedFlags[scheduler] ?? 0), timeout: persistent ? 10800 : 0 };
      return [
        { ...common, family: 'ipv4', address: `10.96.${i}.${p + 1}`, netmask: persistent && i === 1 ? 24 : 32 },
        { ...common, family: 'ipv6', address: `fd00::${i + 1}:${p + 1}`, netmask: persistent && i === 1 ? 64 : 128 },
      ] as VirtualServer[];
    }));
    expect(await ipvs.apply(wanted.map((vs) => ({ op: 'add-virtual-server', vs })))).toEqual(wanted.map(() => undefined));
    expect(sorted(await ipvs.listVirtualServers())).toEqual(sorted(wanted));
    expect(sorted((await ipvsadmRules(ns.name)).services)).toEqual(sorted(wanted));
  });

  it('adds, updates and deletes real servers; weights and thresholds read back', async () => {
    const v4: VirtualServer = { family: 'ipv4', protocol: 'tcp', address: '10.96.0.1', port: 80, scheduler: 'wrr', flags: 0, timeout: 0, netmask: 32 };
    const v6: VirtualServer = { ...v4, family: 'ipv6', protocol: 'udp', address: 'fd00::1', port: 53, netmask: 128 };
    await ipvs.addVirtualServer(v4);
    await ipvs.addVirtualServer(v6);
    const four = [rs('10.1.0.1', 8080), rs('10.1.0.2', 8080, 3, 100, 10), rs('10.1.0.3', 8081)];
    const six = [rs('fd01::1', 5353), rs('fd01::2', 5353, 2)];
    for (const r of four) await ipvs.addRealServer(v4, r);
    for (const r of six) await ipvs.addRealServer(v6, r);
    await ipvs.updateRealServer(v4, { ...four[0]!, weight: 0 }); // draining
    await ipvs.updateRealServer(v6, { ...six[1]!, weight: 7, upperThreshold: 50, lowerThreshold: 5 });
    await ipvs.deleteRealServer(v4, four[2]!);

    const counters = { activeConns: 0, inactiveConns: 0, persistConns: 0 };
    const byAddress = (a: { address: string }, b: { address: string }) => a.address.localeCompare(b.address);
    expect((await ipvs.listRealServers(v4)).sort(byAddress)).toEqual([{ ...four[0]!, weight: 0, ...counters }, { ...four[1]!, ...counters }]);
    expect((await ipvs.listRealServers(v6)).sort(byAddress)).toEqual([{ ...six[0]!, ...counters }, { ...six[1]!, weight: 7, upperThreshold: 50, lowerThreshold: 5, ...counters }]);
    const { reals } = await ipvsadmRules(ns.name);
    expect(reals.get(vsKey(v4))!.sort(byAddress)).toEqual([{ address: '10.1.0.1', port: 8080, weight: 0, forwardMethod: 'masq' }, { address: '10.1.0.2', port: 8080, weight: 3, forwardMethod: 'masq' }]);
    expect(reals.get(vsKey(v6))!.map((r) => r.weight).sort()).toEqual([1, 7]);
  });

  it('updates a virtual server in place: its real servers stay', async () => {
    const vs: VirtualServer = { family: 'ipv4', protocol: 'tcp', address: '10.96.0.2', port: 443, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32 };
    await ipvs.addVirtualServer(vs);
    await ipvs.addRealServer(vs, rs('10.1.0.5', 8443));
    const changed = { ...vs, scheduler: 'mh', flags: ServiceFlags.persistent | ServiceFlags.sched2, timeout: 600 };
    await ipvs.updateVirtualServer(changed);
    expect(await ipvs.listVirtualServers()).toEqual([changed]);
    expect((await ipvs.listRealServers(vs)).map((r) => r.address)).toEqual(['10.1.0.5']);
    await ipvs.updateVirtualServer(vs);
    expect(await ipvs.listVirtualServers()).toEqual([vs]); // flags cleared again: the mask covers every bit
    await ipvs.deleteVirtualServer(vs);
    expect(await ipvs.listVirtualServers()).toEqual([]);
  });

  it('reports each failed operation of a batch with its errno, and runs the others', async () => {
    const vs: VirtualServer = { family: 'ipv4', protocol: 'tcp', address: '10.96.0.1', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32 };
    const missing = { ...vs, port: 81 };
    const ops: IpvsOperation[] = [
      { op: 'add-virtual-server', vs },
      { op: 'add-virtual-server', vs },
      { op: 'add-real-server', vs: missing, rs: rs('10.0.0.5', 8080) },
      { op: 'add-virtual-server', vs: { ...vs, port: 82, scheduler: 'nosuch' } },
      { op: 'update-real-server', vs, rs: rs('10.0.0.6', 8080) },
      { op: 'delete-real-server', vs, rs: rs('10.0.0.6', 8080) },
      { op: 'delete-virtual-server', vs: missing },
      { op: 'add-real-server', vs, rs: rs('10.0.0.7', 8080, 1, 5, 10) },
      { op: 'add-real-server', vs, rs: rs('10.0.0.5', 8080) },
    ];
    const errors = await ipvs.apply(ops);
    expect(errors.map((e) => e?.code)).toEqual([undefined, 'EEXIST', 'ESRCH', 'ENOENT', 'ENOENT', 'ENOENT', 'ESRCH', 'ERANGE', undefined]);
    expect(errors[2]!.errno).toBe(3);
    expect(errors[2]!.message).toBe('add real server 10.0.0.5:8080 to TCP 10.96.0.1:81: ESRCH (No such process)');
    expect(errors[3]!.message).toBe('add virtual server TCP 10.96.0.1:82: ENOENT (No such file or directory)');
    expect(errors[7]!.message).toBe('add real server 10.0.0.7:8080 to TCP 10.96.0.1:80: ERANGE (Result too large)');
    await expect(ipvs.addVirtualServer(vs)).rejects.toThrow('add virtual server TCP 10.96.0.1:80: EEXIST (File already exists)');
    expect((await ipvs.listRealServers(vs)).map((r) => r.address)).toEqual(['10.0.0.5']);
    // No error for the real servers of a virtual server that does not exist: an empty dump.
    expect(await ipvs.listRealServers(missing)).toEqual([]);
  });

  it('programs 2,000 virtual servers with 3 real servers each in one batch', async () => {
    const services: VirtualServer[] = Array.from({ length: 2000 }, (_, i) => (
      { family: 'ipv4', protocol: 'tcp', address: `10.97.${i >> 8}.${i & 255}`, port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32 }));
    const reals = (i: number) => [0, 1, 2].map((j) => rs(`10.2.${i >> 8}.${i & 255}`, 8000 + j));
    const ops: IpvsOperation[] = services.flatMap((vs, i) => [
      { op: 'add-virtual-server', vs } as const,
      ...reals(i).map((r) => ({ op: 'add-real-server', vs, rs: r }) as const),
    ]);
    const started = performance.now();
    const errors = await ipvs.apply(ops);
    const applied = performance.now();
    const listed = await ipvs.listVirtualServers();
    console.log(`8,000 operations in ${(applied - started).toFixed(0)} ms, 2,000 virtual servers listed in ${(performance.now() - applied).toFixed(0)} ms`);
    expect(errors.filter(Boolean)).toEqual([]);
    expect(sorted(listed)).toEqual(sorted(services));
    for (const i of [0, 777, 1999]) {
      expect((await ipvs.listRealServers(services[i]!)).map((r) => r.port).sort()).toEqual([8000, 8001, 8002]);
    }
    const fromIpvsadm = await ipvsadmRules(ns.name);
    expect(fromIpvsadm.services).toHaveLength(2000);
    expect([...fromIpvsadm.reals.values()].flat()).toHaveLength(6000);
  });

  it('sets the timeouts it is given, keeps the others, and reads them back', async () => {
    await ipvs.setTimeouts({ tcp: 1000, tcpFin: 60, udp: 200 });
    expect(await ipvs.getTimeouts()).toEqual({ tcp: 1000, tcpFin: 60, udp: 200 });
    await ipvs.setTimeouts({ udp: 30 });
    expect(await ipvs.getTimeouts()).toEqual({ tcp: 1000, tcpFin: 60, udp: 30 });
    expect(await netnsExec(ns.name, ['ipvsadm', '-Ln', '--timeout'])).toContain('Timeout (tcp tcpfin udp): 1000 60 30');
  });
});

describe('kernel behaviour the clients rely on', () => {
  it('refuses an IPv4 real server with EINVAL in a namespace without IPv4 addresses', async () => {
    const ns = await createNamespace(false);
    const ipvs = await IpvsClient.open({ netns: ns.path });
    try {
      const vs: VirtualServer = { family: 'ipv4', protocol: 'tcp', address: '10.96.0.1', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32 };
      await ipvs.addVirtualServer(vs);
      await expect(ipvs.addRealServer(vs, rs('10.1.0.1', 80))).rejects.toMatchObject({ code: 'EINVAL' });
      await run(['ip', '-n', ns.name, 'link', 'set', 'lo', 'up']);
      await ipvs.addRealServer(vs, rs('10.1.0.1', 80));
    } finally {
      await ipvs.close();
      await run(['ip', 'netns', 'del', ns.name]);
    }
  });
});

describe('dummy link and its addresses', () => {
  let ns: { name: string; path: string };
  let links: LinkClient;
  beforeAll(async () => {
    ns = await createNamespace();
    links = LinkClient.open({ netns: ns.path });
  });
  afterAll(async () => {
    await links?.close();
    if (ns) await run(['ip', 'netns', 'del', ns.name]);
  });

  it('creates the link once, leaves it down, adds, lists and deletes addresses, each idempotently', async () => {
    await links.ensureDummyLink('kube-ipvs0');
    await links.ensureDummyLink('kube-ipvs0');
    const ifindex = await links.linkIndex('kube-ipvs0');
    const [shown] = JSON.parse(await run(['ip', '-n', ns.name, '-d', '-j', 'link', 'show', 'kube-ipvs0'])) as { ifindex: number; flags: string[]; linkinfo: { info_kind: string } }[];
    expect(shown).toMatchObject({ ifindex, linkinfo: { info_kind: 'dummy' } });
    expect(shown!.flags).not.toContain('UP');

    const vips = ['10.96.0.1', 'fd00::1', '10.96.0.2'];
    expect(await links.addAddresses('kube-ipvs0', vips)).toEqual([undefined, undefined, undefined]);
    expect(await links.addAddresses('kube-ipvs0', vips)).toEqual([undefined, undefined, undefined]);
    const onLink = [
      { ifindex, family: 'ipv4', address: '10.96.0.1', prefixLength: 32 },
      { ifindex, family: 'ipv4', address: '10.96.0.2', prefixLength: 32 },
      { ifindex, family: 'ipv6', address: 'fd00::1', prefixLength: 128 },
    ];
    expect(await links.listAddresses('kube-ipvs0')).toEqual(onLink);
    expect(await links.listAddresses()).toEqual(expect.arrayContaining([...onLink, { ifindex: 1, family: 'ipv4', address: '127.0.0.1', prefixLength: 8 }]));
    const [addrs] = JSON.parse(await run(['ip', '-n', ns.name, '-j', '-6', 'addr', 'show', 'dev', 'kube-ipvs0'])) as { addr_info: { local: string; nodad?: boolean; tentative?: boolean }[] }[];
    expect(addrs!.addr_info).toEqual([expect.objectContaining({ local: 'fd00::1', nodad: true })]);
    expect(addrs!.addr_info[0]!.tentative).toBeUndefined();

    expect(await links.deleteAddresses('kube-ipvs0', vips)).toEqual([undefined, undefined, undefined]);
    expect(await links.deleteAddresses('kube-ipvs0', vips)).toEqual([undefined, undefined, undefined]);
    expect(await links.listAddresses('kube-ipvs0')).toEqual([]);
    await links.deleteLink('kube-ipvs0');
    await links.deleteLink('kube-ipvs0');
    expect(await links.linkIndex('kube-ipvs0')).toBeUndefined();
    expect(await links.listAddresses('kube-ipvs0')).toEqual([]);
  });

  it('reports the address the kernel refuses, and a missing link when adding', async () => {
    await links.ensureDummyLink('kube-ipvs0');
    const errors = await links.addAddresses('kube-ipvs0', ['10.96.0.5', 'ff02::1']);
    expect(errors[0]).toBeUndefined();
    expect(errors[1]!.message).toBe('add address ff02::1/128 to kube-ipvs0: EADDRNOTAVAIL (Address not available)');
    await expect(links.addAddresses('nosuch', ['10.96.0.6'])).rejects.toThrow('add addresses to link nosuch: ENODEV (No such device)');
    expect(await links.deleteAddresses('nosuch', ['10.96.0.6'])).toEqual([undefined]);
    await links.deleteLink('kube-ipvs0');
  });
});

describe('decode fixtures', () => {
  interface Addon {
    send(sock: object, bytes: Buffer, done: (err: Error | null) => void): void;
    receive(sock: object, done: (err: Error | null, data?: Buffer) => void): void;
  }
  const addon = createRequire(import.meta.url)('../../dist/kernel/netlink.node') as Addon & { open(p: number, ns: string): object };
  let ns: { name: string; path: string };
  beforeAll(async () => {
    ns = await createNamespace();
  });
  afterAll(() => run(['ip', 'netns', 'del', ns.name]));

  /** The raw bytes of the reply to one request, as the socket received them. */
  async function capture(protocol: number, request: Request): Promise<Buffer> {
    const sock = addon.open(protocol, ns.path);
    const [datagram] = frameDatagrams([request], () => 1);
    await new Promise<void>((resolve, reject) => addon.send(sock, datagram!.bytes, (e) => (e ? reject(e) : resolve())));
    const collector = new ReplyCollector(datagram!.seqs);
    const parts: Buffer[] = [];
    while (!collector.complete) {
      parts.push(await new Promise<Buffer>((resolve, reject) => addon.receive(sock, (e, d) => (e ? reject(e) : resolve(d!)))));
      collector.add(parts.at(-1)!);
    }
    return Buffer.concat(parts);
  }

  it('are what this kernel sends (SVCROUTER_WRITE_FIXTURES=1 rewrites them)', async () => {
    // The state the fixtures describe.
    const ipvs = await IpvsClient.open({ netns: ns.path });
    const links = LinkClient.open({ netns: ns.path });
    const vs: VirtualServer = { family: 'ipv4', protocol: 'tcp', address: '10.96.0.1', port: 80, scheduler: 'rr', flags: ServiceFlags.persistent, timeout: 10800, netmask: 32 };
    const more: VirtualServer[] = [
      { family: 'ipv6', protocol: 'udp', address: 'fd00::10', port: 53, scheduler: 'mh', flags: ServiceFlags.sched2, timeout: 0, netmask: 128 },
      { family: 'ipv4', protocol: 'sctp', address: '10.96.0.3', port: 9000, scheduler: 'sh', flags: ServiceFlags.persistent | ServiceFlags.sched1, timeout: 600, netmask: 24 },
    ];
    for (const v of [vs, ...more]) await ipvs.addVirtualServer(v);
    await ipvs.addRealServer(vs, rs('10.1.0.2', 8080, 1, 100, 10));
    await ipvs.addRealServer(vs, rs('10.1.0.3', 8080, 0));
    await netnsExec(ns.name, ['ipvsadm', '-A', '-f', '7', '-s', 'rr']);
    await ipvs.setTimeouts({ tcp: 1000, tcpFin: 60, udp: 200 });
    await links.ensureDummyLink('kube-ipvs0');
    await links.addAddresses('kube-ipvs0', ['10.96.0.1', 'fd00::10']);
    // A route to the real servers (no IPv6 link-local address: it would differ each time), and a
    // connection attempt through the virtual server, so that the counters are not all zero.
    await links.ensureDummyLink('rs0');
    await run(['ip', '-n', ns.name, 'link', 'set', 'rs0', 'addrgenmode', 'none']);
    await run(['ip', '-n', ns.name, 'addr', 'add', '10.1.0.1/24', 'dev', 'rs0']);
    await run(['ip', '-n', ns.name, 'link', 'set', 'rs0', 'up']);
    const attempt = netnsExec(ns.name, ['timeout', '5', 'bash', '-c', 'echo > /dev/tcp/10.96.0.1/80']).catch(() => undefined);
    await until(async () => (await ipvs.listRealServers(vs)).some((r) => r.activeConns > 0));

    const genl = NetlinkSocket.open(NETLINK_GENERIC, ns.path);
    const family = await resolveFamily(genl, 'IPVS', 'ip_vs');
    await genl.close();
    const requests: Record<FixtureName, [number, Request]> = {
      'genl-getfamily-ipvs': [NETLINK_GENERIC, familyRequest('IPVS')],
      'ipvs-get-service-dump': [NETLINK_GENERIC, listVirtualServersRequest(family)],
      'ipvs-get-dest-dump': [NETLINK_GENERIC, listRealServersRequest(family, vs)],
      'ipvs-new-dest-esrch': [NETLINK_GENERIC, operationRequest(family, { op: 'add-real-server', vs: { ...vs, port: 81 }, rs: rs('10.1.0.2', 8080) })],
      'ipvs-get-info': [NETLINK_GENERIC, getInfoRequest(family)],
      'ipvs-get-config': [NETLINK_GENERIC, getTimeoutsRequest(family)],
      'rtm-getaddr-dump': [NETLINK_ROUTE, listAddressesRequest()],
    };
    for (const name of Object.keys(FIXTURES) as FixtureName[]) {
      const [protocol, request] = requests[name];
      const bytes = await capture(protocol, request);
      if (process.env.SVCROUTER_WRITE_FIXTURES === '1') writeFixture(name, bytes);
      expect(decodeFixture(name, bytes), name).toEqual(decodeFixture(name, readFixture(name)));
    }
    await Promise.all([ipvs.close(), links.close(), attempt]);
  });
});

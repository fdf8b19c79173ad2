// From the kernel's IPVS table to the desired one: only the changes, never a
// delete+add where an update does, and kube-proxy's graceful termination.
import { describe, expect, it } from 'vitest';
import { reconcileIpvs, DRAIN_TIMEOUT_MS, type DrainQueue, type ObservedVirtualServer, type ObservedRealServer } from '../../src/backends/ipvs/reconcile.js';
import { serviceArg, type RealServer, type VirtualServer } from '../../src/backends/ipvs/model.js';

const rs = (address: string, weight = 1): RealServer => ({ address, port: 8080, weight });
const seen = (address: string, weight = 1, activeConns = 0, inactiveConns = 0): ObservedRealServer => ({ ...rs(address, weight), activeConns, inactiveConns });
const vs = (protocol: 'tcp' | 'udp', reals: RealServer[], extra: Partial<VirtualServer> = {}): VirtualServer =>
  ({ family: 'ipv4', protocol, address: '10.96.0.10', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32, reals, servicePort: 'default/web:http/TCP', ...extra } as VirtualServer);
const kernel = (v: VirtualServer, reals: ObservedRealServer[]): ObservedVirtualServer => ({ ...v, reals });

function run(desired: VirtualServer[], observed: ObservedVirtualServer[], draining: DrainQueue = new Map(), now = 0, owned = () => true) {
  const want = new Map(desired.map((v) => [serviceArg(v), v]));
  const have = new Map(observed.map((v) => [serviceArg(v), v]));
  const r = reconcileIpvs({ desired: (k) => want.get(k), observed: have, keys: [...want.keys(), ...have.keys()], owned, draining, now });
  return { ...r, ops: r.changes.map((c) => `${c.op} ${serviceArg(c.vs)}${'rs' in c ? ` ${c.rs.address} w${c.rs.weight}` : ''}`) };
}

describe('reconcileIpvs', () => {
  it('adds a new virtual server with its real servers, and changes nothing when all is in place', () => {
    const want = vs('tcp', [rs('10.244.1.11'), rs('10.244.2.21')]);
    expect(run([want], []).ops).toEqual(['add-virtual-server -t 10.96.0.10:80', 'add-real-server -t 10.96.0.10:80 10.244.1.11 w1', 'add-real-server -t 10.96.0.10:80 10.244.2.21 w1']);
    expect(run([want], [kernel(want, [seen('10.244.1.11'), seen('10.244.2.21')])]).ops).toEqual([]);
  });

  it('changes scheduler or persistence in place', () => {
    const was = vs('tcp', []);
    expect(run([vs('tcp', [], { flags: 1, timeout: 600 })], [kernel(was, [])]).ops).toEqual(['update-virtual-server -t 10.96.0.10:80']);
  });

  it('a TCP real server that goes away drains at weight 0 while it has connections, then is deleted', () => {
    const draining: DrainQueue = new Map();
    const want = vs('tcp', [rs('10.244.2.21')]);
    const first = run([want], [kernel(want, [seen('10.244.1.11', 1, 1, 0), seen('10.244.2.21')])], draining, 1000);
    expect(first.ops).toEqual(['update-real-server -t 10.96.0.10:80 10.244.1.11 w0']);
    expect(first.deletedFlows).toEqual([]);
    expect(run([want], [kernel(want, [seen('10.244.1.11', 0, 1, 0), seen('10.244.2.21')])], draining, 2000).ops).toEqual([]);
    expect(run([want], [kernel(want, [seen('10.244.1.11', 0, 0, 0), seen('10.244.2.21')])], draining, 3000).ops).toEqual(['delete-real-server -t 10.96.0.10:80 10.244.1.11 w0']);
    expect(draining.size).toBe(0);
  });

  it('a draining real server is deleted after the drain timeout even with connections', () => {
    const draining: DrainQueue = new Map();
    const want = vs('tcp', []);
    run([want], [kernel(want, [seen('10.244.1.11', 1, 3, 0)])], draining, 0);
    expect(run([want], [kernel(want, [seen('10.244.1.11', 0, 3, 0)])], draining, DRAIN_TIMEOUT_MS - 1).ops).toEqual([]);
    expect(run([want], [kernel(want, [seen('10.244.1.11', 0, 3, 0)])], draining, DRAIN_TIMEOUT_MS).ops).toEqual(['delete-real-server -t 10.96.0.10:80 10.244.1.11 w0']);
  });

  it('an endpoint back while draining gets its weight back', () => {
    const draining: DrainQueue = new Map();
    const want = vs('tcp', [rs('10.244.1.11')]);
    run([vs('tcp', [])], [kernel(want, [seen('10.244.1.11', 1, 1, 0)])], draining, 0);
    expect(run([want], [kernel(want, [seen('10.244.1.11', 0, 1, 0)])], draining, 10).ops).toEqual(['update-real-server -t 10.96.0.10:80 10.244.1.11 w1']);
    expect(draining.size).toBe(0);
  });

  it('UDP real servers are deleted at once, and their flows returned for conntrack cleanup', () => {
    const want = vs('udp', []);
    const r = run([want], [kernel(want, [seen('10.244.1.11', 1, 0, 5)])]);
    expect(r.ops).toEqual(['delete-real-server -u 10.96.0.10:80 10.244.1.11 w1']);
    expect(r.deletedFlows.map((f) => `${serviceArg(f.vs)} ${f.rs.address}`)).toEqual(['-u 10.96.0.10:80 10.244.1.11']);
  });

  it('after a restart, weights left at 0 are reset (kube-proxy #92019)', () => {
    const want = vs('tcp', [rs('10.244.1.11')]);
    expect(run([want], [kernel(want, [seen('10.244.1.11', 0)])]).ops).toEqual(['update-real-server -t 10.96.0.10:80 10.244.1.11 w1']);
  });

  it('deletes a virtual server no longer desired only when it is svcrouter\'s', () => {
    const other = kernel(vs('tcp', [], { address: '192.0.2.80' } as Partial<VirtualServer>), [seen('10.0.0.1')]);
    expect(run([], [other]).ops).toEqual(['delete-virtual-server -t 192.0.2.80:80']);
    expect(run([], [other], new Map(), 0, () => false).ops).toEqual([]);
  });

  it('firewall-mark servers drain like TCP ones', () => {
    const want = { family: 'ipv4', fwmark: 300, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32, reals: [], servicePort: 'x' } as VirtualServer;
    expect(run([want], [kernel(want, [seen('10.244.1.11', 1, 1)])]).ops).toEqual(['update-real-server -f 300 10.244.1.11 w0']);
  });
});
